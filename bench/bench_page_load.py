"""Page load through cobrowse against direct, in Chromium: time to first byte and the load event.

Run from the repository root:
    .venv/bin/python bench/bench_page_load.py [--rounds 9] [--corpus ../shared/corpus/html] [--corpus-pages 6]
        [--proxy before=/path/to/old/worktree --proxy after=.]

``--proxy NAME=DIR`` (repeatable) times the cobrowse of each checkout in the same run, one server
each, every round in a rotating order (default: this checkout alone), so a change is measured
beside its baseline under the same machine load.

Processes: the cobrowse server (``python -m proxy.cli serve``, its own process as deployed,
resolving ``pages.bench`` to the target and allowing only that domain, so the corpus pages'
links to the real web are refused at once), the target (``bench/page_site.py``: fixture pages
and a sample of the corpus spread over its sizes) in this process, and two headless Debian
Chromiums: one reaches the target directly (its resolver maps ``*.pages.bench`` to the target
and fails every other host at once), one only the proxy space, as the leader of one session.

A round loads every page once each way, alternating which side goes first, each in a fresh
browser context (empty HTTP cache: a first visit, the case the runtime's caching cannot help
within a page except across its origins). Figures, from the page's own Navigation Timing
entry, in ms from the document's fetch: ``ttfb`` (``responseStart``) and ``load``
(``loadEventEnd``); ratio = median of the per-round proxy/direct ratios; ``again``: the load event
when the same page is loaded once more in that context (the browser's cache warm, as on a
session's next page). Where the proxy's
time goes: the runtime's downloads in every frame of the page (Resource Timing: how many
fetches, bytes on the wire), and the page's main-thread script time (CDP
``Performance.getMetrics`` ``ScriptDuration``, all frames of the page's process), which is
where the runtime's parse and start-up show. Round 0 is a warm-up (the server's first serving
of each page, its script cache empty) and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cobrowse_process import API_KEY, ROOT, running, up
from page_site import HOST, corpus_sample, make_app
from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError

sys.path.insert(0, str(ROOT / "tests"))

from world.browser import launch
from world.targets import free_port, listen, serve

DOMAIN = "cobrowse.localhost"
TIMEOUT_MS = 60_000
DIRECT = "direct"
FIXTURES = ("/small", "/medium", "/frames")

# Navigation Timing of the top document, and the runtime's fetches in this frame.
READ_TIMINGS = """() => new Promise((resolve) => {
  const read = () => {
    const nav = performance.getEntriesByType('navigation')[0];
    if (!nav || nav.loadEventEnd <= 0) { setTimeout(read, 10); return; }
    resolve({ttfb: nav.responseStart - nav.fetchStart, load: nav.loadEventEnd - nav.fetchStart,
             doc: nav.encodedBodySize});
  };
  read();
})"""
READ_RUNTIME = """() => performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/__cb/runtime'))
  .map((e) => ({wire: e.transferSize, body: e.encodedBodySize, ms: e.responseEnd - e.startTime}))"""


@dataclass(slots=True)
class Load:
    ttfb: float
    load: float
    script_ms: float
    runtime_fetches: int = 0  # fetched over the network (transferSize > 0)
    runtime_cached: int = 0  # from the HTTP cache (transferSize 0, body known)
    runtime_wire: int = 0  # bytes on the wire for the runtime, all frames
    runtime_ms: float = 0.0  # the slowest runtime fetch of the page
    again: float = 0.0  # the load event of the same page loaded once more in the same context


@dataclass(slots=True)
class Results:
    loads: dict[tuple[str, str], list[Load]] = field(default_factory=dict)
    dropped: int = 0  # (page, round) pairs left out because one of their loads failed


async def create_session(port: int, url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client, client.post(
            f"http://127.0.0.1:{port}/api/v1/sessions",
            headers={"Host": f"{DOMAIN}:{port}", "Authorization": f"Bearer {API_KEY}"},
            json={"url": url, "agent": {"id": "bench", "name": "Bench"}}) as reply:
        if reply.status != 201:
            raise RuntimeError(f"create session answered {reply.status}: {await reply.text()}")
        created: dict[str, Any] = await reply.json()
        return created


async def enter_as_leader(browser: Browser, leader_url: str) -> tuple[str, list[Any]]:
    """The proxy origin of the target for the session's leader, and the leader's cookies."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(leader_url, wait_until="load", timeout=TIMEOUT_MS)
        parts = urlsplit(page.url)
        return f"{parts.scheme}://{parts.netloc}", list(await context.cookies())
    finally:
        await context.close()


async def timed_load(browser: Browser, url: str, cookies: list[Any]) -> Load:
    context = await browser.new_context()
    try:
        if cookies:
            await context.add_cookies(cookies)
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        timings = await page.evaluate(READ_TIMINGS)
        metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
        load = Load(ttfb=timings["ttfb"], load=timings["load"], script_ms=metrics.get("ScriptDuration", 0.0) * 1000)
        for frame in page.frames:
            try:
                entries = await frame.evaluate(READ_RUNTIME)
            except Exception:  # a frame without a document to ask (about:blank torn down): nothing to count
                continue
            for entry in entries:
                if entry["wire"] > 0:
                    load.runtime_fetches += 1
                elif entry["body"] > 0:
                    load.runtime_cached += 1
                load.runtime_wire += int(entry["wire"])
                load.runtime_ms = max(load.runtime_ms, float(entry["ms"]))
        await page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        load.again = (await page.evaluate(READ_TIMINGS))["load"]
        return load
    finally:
        await context.close()


async def measure(args: argparse.Namespace, sock: socket.socket,
                  servers: dict[str, int]) -> tuple[Results, list[str], str]:
    """Every page, every round, directly and through each server (``name -> port``), in rotating order."""
    corpus = Path(args.corpus) if args.corpus else None
    names = corpus_sample(corpus, args.corpus_pages) if corpus is not None and corpus.is_dir() else []
    paths = [*FIXTURES, *(f"/corpus/{name}" for name in names)]
    served = await serve(make_app(corpus), sock=sock)
    for port in servers.values():
        await up(port)
    results = Results()
    try:
        rules = f"MAP {HOST} 127.0.0.1:{served.port},MAP *.{HOST} 127.0.0.1:{served.port},MAP * ~NOTFOUND"
        async with async_playwright() as playwright:
            browsers = {"direct": await launch(playwright, (f"--host-resolver-rules={rules}",)),
                        "proxy": await launch(playwright)}
            try:
                version = str(browsers["proxy"].version)
                bases: dict[str, tuple[Browser, str, list[Any]]] = {
                    DIRECT: (browsers["direct"], f"http://{HOST}", [])}
                for name, port in servers.items():
                    created = await create_session(port, f"http://{HOST}/small")
                    origin, cookies = await enter_as_leader(browsers["proxy"], created["leader_url"])
                    bases[name] = (browsers["proxy"], origin, cookies)
                sides = list(bases)
                for n in range(args.rounds + 1):
                    order = sides[n % len(sides):] + sides[:n % len(sides)]
                    for path in paths:
                        got: dict[str, Load] = {}
                        for side in order:
                            browser, base, with_cookies = bases[side]
                            try:
                                got[side] = await timed_load(browser, base + path, with_cookies)
                            except PlaywrightError as exc:  # a load that timed out: this page's round is dropped
                                print(f"round {n} {side} {path}: {str(exc)[:200]}", file=sys.stderr, flush=True)
                                results.dropped += 1
                                break
                        if n > 0 and len(got) == len(order):
                            for side, load in got.items():
                                results.loads.setdefault((side, path), []).append(load)
                    print(f"round {n} done (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            finally:
                for browser in browsers.values():
                    await browser.close()
    finally:
        await served.runner.cleanup()
    return results, paths, version


def spread(values: list[float]) -> str:
    deciles = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else [values[0]] * 9
    return f"{statistics.median(values):.0f} ({deciles[0]:.0f}..{deciles[-1]:.0f})"


def ratios(results: Results, side: str, path: str, metric: str) -> list[float]:
    pairs = zip(results.loads[(side, path)], results.loads[(DIRECT, path)], strict=True)
    return [getattr(p, metric) / max(getattr(d, metric), 0.1) for p, d in pairs]


def report(results: Results, side: str, paths: list[str]) -> None:
    print(f"\nThrough **{side}**:\n")
    print("| page | ttfb direct | ttfb proxy | ttfb ratio | load direct | load proxy | **load ratio** "
          "| again: direct / proxy, ratio | script ms direct / proxy | runtime fetches / cached, KB on wire, ms |")
    print("| --- |" + " ---: |" * 9)
    groups: dict[str, list[float]] = {"fixture": [], "corpus": [], "all": []}
    again: list[float] = []
    for path in paths:
        direct, proxy = results.loads[(DIRECT, path)], results.loads[(side, path)]
        load_ratio = statistics.median(ratios(results, side, path, "load"))
        groups["corpus" if path.startswith("/corpus/") else "fixture"].append(load_ratio)
        groups["all"].append(load_ratio)
        again.append(statistics.median(ratios(results, side, path, "again")))
        fetched = statistics.median(p.runtime_fetches for p in proxy)
        cached = statistics.median(p.runtime_cached for p in proxy)
        wire = statistics.median(p.runtime_wire for p in proxy) / 1024
        runtime_ms = statistics.median(p.runtime_ms for p in proxy)
        name = path.removeprefix("/corpus/")
        print(f"| `{name}` | {spread([d.ttfb for d in direct])} | {spread([p.ttfb for p in proxy])} "
              f"| {statistics.median(ratios(results, side, path, 'ttfb')):.2f}x "
              f"| {spread([d.load for d in direct])} | {spread([p.load for p in proxy])} | **{load_ratio:.2f}x** "
              f"| {statistics.median(d.again for d in direct):.0f} / {statistics.median(p.again for p in proxy):.0f}, "
              f"{statistics.median(ratios(results, side, path, 'again')):.2f}x "
              f"| {statistics.median(d.script_ms for d in direct):.0f} / "
              f"{statistics.median(p.script_ms for p in proxy):.0f} "
              f"| {fetched:.0f} / {cached:.0f}, {wire:.0f}, {runtime_ms:.0f} |")
    print()
    for group, values in groups.items():
        if values:
            print(f"- {group} pages: median of the per-page load ratios **{statistics.median(values):.2f}x** "
                  f"(min {min(values):.2f}x, max {max(values):.2f}x, {len(values)} pages)")
    if again:
        print(f"- again (the same page once more, browser cache warm): median of the per-page ratios "
              f"**{statistics.median(again):.2f}x** (min {min(again):.2f}x, max {max(again):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "html"),
                        help="folder of corpus pages ('' for fixture pages only)")
    parser.add_argument("--corpus-pages", type=int, default=6, help="corpus pages, spread over the sizes")
    parser.add_argument("--server-log", default="error", help="the cobrowse server's --log-level")
    parser.add_argument("--proxy", action="append", metavar="NAME=DIR",
                        help="time the cobrowse of this checkout too (repeatable; default: this one, as 'cobrowse')")
    args = parser.parse_args()
    checkouts = dict(item.split("=", 1) for item in args.proxy) if args.proxy else {"cobrowse": str(ROOT)}
    sock = listen()
    target = f"127.0.0.1:{sock.getsockname()[1]}"
    resolve = [arg for host in (HOST, f"a.{HOST}", f"b.{HOST}") for arg in ("--resolve", f"{host}:80={target}")]
    servers = {name: free_port() for name in checkouts}
    with contextlib.ExitStack() as stack:
        for name, folder in checkouts.items():
            stack.enter_context(running(servers[name], *resolve, "--allow-domain", HOST, "--log-level",
                                        args.server_log, cwd=Path(folder)))
        before = os.getloadavg()[0]
        results, paths, version = asyncio.run(measure(args, sock, servers))
    print(f"Chromium {version}; {args.rounds} rounds after a warm-up; ms from the document's fetch, median (p10..p90); "
          f"ratio: median of the per-round proxy/direct ratios; load average {before:.1f} -> {os.getloadavg()[0]:.1f}; "
          f"checkouts: {checkouts}; page rounds dropped (a load failed): {results.dropped}")
    for name in checkouts:
        report(results, name, paths)


if __name__ == "__main__":
    main()
