"""Page load through cobrowse against direct, in Chromium: time to first byte and the load event.

Run from the repository root:
    .venv/bin/python bench/bench_page_load.py [--rounds 9] [--corpus ../shared/corpus/html] [--corpus-pages 6]

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
(``loadEventEnd``); ratio = median of the per-round proxy/direct ratios. Where the proxy's
time goes: the runtime's downloads in every frame of the page (Resource Timing: how many
fetches, bytes on the wire), and the page's main-thread script time (CDP
``Performance.getMetrics`` ``ScriptDuration``, all frames of the page's process), which is
where the runtime's parse and start-up show. Round 0 is a warm-up (the server's first serving
of each page, its script cache empty) and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from bench_proxy import wait_port
from cobrowse_process import API_KEY, ROOT, running
from page_site import HOST, corpus_sample, make_app
from playwright.async_api import Browser, async_playwright

sys.path.insert(0, str(ROOT / "tests"))

from world.browser import launch
from world.targets import free_port, listen, serve

DOMAIN = "cobrowse.localhost"
TIMEOUT_MS = 60_000
SIDES = ("direct", "proxy")
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


@dataclass(slots=True)
class Results:
    loads: dict[tuple[str, str], list[Load]] = field(default_factory=dict)


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
        return load
    finally:
        await context.close()


async def measure(args: argparse.Namespace, sock: socket.socket, proxy_port: int) -> tuple[Results, list[str], str]:
    corpus = Path(args.corpus) if args.corpus else None
    names = corpus_sample(corpus, args.corpus_pages) if corpus is not None and corpus.is_dir() else []
    paths = [*FIXTURES, *(f"/corpus/{name}" for name in names)]
    served = await serve(make_app(corpus), sock=sock)
    await wait_port(proxy_port)
    results = Results()
    try:
        rules = f"MAP {HOST} 127.0.0.1:{served.port},MAP *.{HOST} 127.0.0.1:{served.port},MAP * ~NOTFOUND"
        async with async_playwright() as playwright:
            browsers = {"direct": await launch(playwright, (f"--host-resolver-rules={rules}",)),
                        "proxy": await launch(playwright)}
            try:
                version = str(browsers["proxy"].version)
                created = await create_session(proxy_port, f"http://{HOST}/small")
                proxy_origin, cookies = await enter_as_leader(browsers["proxy"], created["leader_url"])
                bases = {"direct": (f"http://{HOST}", []), "proxy": (proxy_origin, cookies)}
                for n in range(args.rounds + 1):
                    for path in paths:
                        for side in (SIDES if n % 2 == 0 else SIDES[::-1]):
                            base, with_cookies = bases[side]
                            load = await timed_load(browsers[side], base + path, with_cookies)
                            if n > 0:
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


def ratios(results: Results, path: str, metric: str) -> list[float]:
    pairs = zip(results.loads[("proxy", path)], results.loads[("direct", path)], strict=True)
    return [getattr(p, metric) / max(getattr(d, metric), 0.1) for p, d in pairs]


def report(results: Results, paths: list[str], rounds: int, version: str, load: tuple[float, float]) -> None:
    print(f"Chromium {version}; {rounds} rounds after a warm-up; ms from the document's fetch, median (p10..p90); "
          f"ratio: median of the per-round proxy/direct ratios; load average {load[0]:.1f} -> {load[1]:.1f}\n")
    print("| page | ttfb direct | ttfb proxy | ttfb ratio | load direct | load proxy | **load ratio** "
          "| script ms direct / proxy | runtime fetches / cached, KB on wire, ms |")
    print("| --- |" + " ---: |" * 8)
    groups: dict[str, list[float]] = {"fixture": [], "corpus": [], "all": []}
    for path in paths:
        direct, proxy = results.loads[("direct", path)], results.loads[("proxy", path)]
        load_ratio = statistics.median(ratios(results, path, "load"))
        groups["corpus" if path.startswith("/corpus/") else "fixture"].append(load_ratio)
        groups["all"].append(load_ratio)
        fetched = statistics.median(p.runtime_fetches for p in proxy)
        cached = statistics.median(p.runtime_cached for p in proxy)
        wire = statistics.median(p.runtime_wire for p in proxy) / 1024
        runtime_ms = statistics.median(p.runtime_ms for p in proxy)
        name = path.removeprefix("/corpus/")
        print(f"| `{name}` | {spread([d.ttfb for d in direct])} | {spread([p.ttfb for p in proxy])} "
              f"| {statistics.median(ratios(results, path, 'ttfb')):.2f}x "
              f"| {spread([d.load for d in direct])} | {spread([p.load for p in proxy])} | **{load_ratio:.2f}x** "
              f"| {statistics.median(d.script_ms for d in direct):.0f} / "
              f"{statistics.median(p.script_ms for p in proxy):.0f} "
              f"| {fetched:.0f} / {cached:.0f}, {wire:.0f}, {runtime_ms:.0f} |")
    print()
    for group, values in groups.items():
        if values:
            print(f"- {group} pages: median of the per-page load ratios **{statistics.median(values):.2f}x** "
                  f"(min {min(values):.2f}x, max {max(values):.2f}x, {len(values)} pages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "html"),
                        help="folder of corpus pages ('' for fixture pages only)")
    parser.add_argument("--corpus-pages", type=int, default=6, help="corpus pages, spread over the sizes")
    parser.add_argument("--server-log", default="error", help="the cobrowse server's --log-level")
    args = parser.parse_args()
    proxy_port = free_port()
    sock = listen()
    target = f"127.0.0.1:{sock.getsockname()[1]}"
    resolve = [arg for host in (HOST, f"a.{HOST}", f"b.{HOST}") for arg in ("--resolve", f"{host}:80={target}")]
    with running(proxy_port, *resolve, "--allow-domain", HOST, "--log-level", args.server_log):
        before = os.getloadavg()[0]
        results, paths, version = asyncio.run(measure(args, sock, proxy_port))
        report(results, paths, args.rounds, version, (before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
