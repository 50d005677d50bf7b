"""Page load of every compat app, directly and through cobrowse: Chromium's load event.

Run from the repository root:
    .venv/bin/python bench/bench_compat_load.py [--rounds 11] [--app httpbin --app ...]

The apps are the compatibility suite's own (``compat_targets.discover``: every
``tests/compat/test_compat_*.py`` module's app fixture, run outside pytest, plus Django admin
from ``tests/django_target``), each started on loopback as the suite starts it. For each app,
one cobrowse server (``tests/world/harness.start_cobrowse``, in this process, resolving the
app's host name to it) and two headless Chromiums: one that reaches the app directly (host
resolver rules), one that knows only the proxy space. One session per app; its leader link is
opened once, and every timed load through the proxy carries that leader's participant cookie.

A round loads the app's page once directly and once through the proxy, in alternating order
(odd rounds proxy first), each in a fresh browser context (empty HTTP cache: a first visit),
then once more in the same context (``again``: the browser's cache warm). A load's figure is
the page's own Navigation Timing entry: ``loadEventEnd - fetchStart`` in milliseconds, from the
document's fetch to the end of the load event (the compat suite's page-load figure too).
Round 0 is a warm-up, reported on its own (``first``): the app's first requests, and through
the proxy a server whose script cache is empty (every script rewritten cold). The report gives,
over the other rounds, median and p10..p90 per side and the median of the per-round ratios
(proxy / direct), with the load average before and after each app: the machine is shared,
compare within a row. An app that fails to start or load is reported with its error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compat_targets import Entry, Target, discover
from playwright.async_api import Browser, HttpCredentials, async_playwright
from world.browser import launch
from world.harness import start_cobrowse, stop_cobrowse

LOAD_EVENT = """() => new Promise((resolve) => {
  const read = () => {
    const entry = performance.getEntriesByType('navigation')[0];
    if (entry && entry.loadEventEnd > 0) resolve(entry.loadEventEnd - entry.fetchStart); else setTimeout(read, 10);
  };
  read();
})"""
TIMEOUT_MS = 60_000
SIDES = ("direct", "proxy")


@dataclass(slots=True)
class Timings:
    """Load times in ms, by (side, "cold" | "again"), one per timed round; ``first``: the warm-up's."""

    rounds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)


async def timed_loads(browser: Browser, url: str, credentials: HttpCredentials | None,
                      cookies: list[Any]) -> tuple[float, float]:
    """(cold, again): the page loaded in a fresh context, then once more in the same context."""
    context = await browser.new_context(http_credentials=credentials)
    try:
        if cookies:
            await context.add_cookies(cookies)
        page = await context.new_page()
        times = []
        for _ in range(2):
            await page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
            times.append(float(await page.evaluate(LOAD_EVENT)))
        return times[0], times[1]
    finally:
        await context.close()


async def enter_as_leader(browser: Browser, leader_url: str) -> tuple[str, list[Any]]:
    """Open the leader link once: the proxied page it lands on, and the participant's cookies."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(leader_url, wait_until="load", timeout=TIMEOUT_MS)
        return page.url, list(await context.cookies())
    finally:
        await context.close()


async def time_app(target: Target, rounds: int) -> Timings:
    timings = Timings()
    before = os.getloadavg()[0]
    credentials: HttpCredentials | None = None
    if target.credentials is not None:
        credentials = {"username": target.credentials[0], "password": target.credentials[1]}
    server = await start_cobrowse(resolve_overrides=target.resolve_overrides())
    try:
        async with async_playwright() as playwright:
            browsers = {"direct": await launch(playwright, (f"--host-resolver-rules={target.host_resolver_rules()}",)),
                        "proxy": await launch(playwright)}
            try:
                created = await server.create_session(target.url)
                proxied_url, cookies = await enter_as_leader(browsers["proxy"], created["leader_url"])
                urls: dict[str, tuple[str, list[Any]]] = {"direct": (target.url, []), "proxy": (proxied_url, cookies)}
                for n in range(rounds + 1):
                    for side in (SIDES if n % 2 == 0 else SIDES[::-1]):
                        url, with_cookies = urls[side]
                        cold, again = await timed_loads(browsers[side], url, credentials, with_cookies)
                        if n == 0:
                            timings.first[side] = cold
                            continue
                        timings.rounds.setdefault((side, "cold"), []).append(cold)
                        timings.rounds.setdefault((side, "again"), []).append(again)
            finally:
                for browser in browsers.values():
                    await browser.close()
    finally:
        await stop_cobrowse(server)
    timings.load = (before, os.getloadavg()[0])
    return timings


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.0f}"
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return f"{statistics.median(values):.0f} ({deciles[0]:.0f}..{deciles[-1]:.0f})"


def ratio(timings: Timings, kind: str) -> str:
    pairs = zip(timings.rounds[("proxy", kind)], timings.rounds[("direct", kind)], strict=True)
    return f"{statistics.median(p / d for p, d in pairs):.2f}x"


def report(results: list[tuple[Entry, Target, Timings]], skipped: list[Entry], rounds: int, version: str) -> None:
    print(f"Chromium {version}; {rounds} timed rounds after a warm-up; ms from the document's fetch to the load event, "
          "median (p10..p90); ratio: median of the per-round proxy/direct ratios\n")
    print("| app | page | direct | through cobrowse | ratio | again: direct | again: cobrowse | again: ratio "
          "| first: direct / cobrowse | load avg |")
    print("| --- | --- |" + " ---: |" * 8)
    for entry, target, t in results:
        print(f"| {entry.app} | `{target.path}` | {spread(t.rounds[('direct', 'cold')])} | "
              f"{spread(t.rounds[('proxy', 'cold')])} | {ratio(t, 'cold')} | "
              f"{spread(t.rounds[('direct', 'again')])} | {spread(t.rounds[('proxy', 'again')])} | "
              f"{ratio(t, 'again')} | {t.first['direct']:.0f} / {t.first['proxy']:.0f} | "
              f"{t.load[0]:.1f} -> {t.load[1]:.1f} |")
    for entry in skipped:
        print(f"\nNot timed: {entry.app} ({entry.source}): {entry.skipped}")


async def browser_version() -> str:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            return str(browser.version)
        finally:
            await browser.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--app", action="append", help="time only this app (repeatable); default: every app")
    args = ap.parse_args()
    # A context closed after its load event cuts the requests a page still makes (workers, polls):
    # the server logs each as an error, which is noise here.
    logging.getLogger("cobrowse.http").setLevel(logging.CRITICAL)
    # Stopped with SIGTERM: unwind, so the apps (each in its own process group) are stopped too.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    entries = discover(set(args.app) if args.app else None)
    results = []
    print(f"{os.cpu_count()} CPUs; apps: {', '.join(e.app for e in entries)}", flush=True)
    skipped = [e for e in entries if e.open is None]
    for entry in entries:
        if entry.open is None:
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="cobrowse-bench-") as tmp:
                async with entry.open(Path(tmp)) as target:
                    results.append((entry, target, await time_app(target, args.rounds)))
        except Exception as exc:  # one app that does not start or load is reported, not fatal
            skipped.append(replace(entry, skipped=f"failed: {type(exc).__name__}: {str(exc)[:300]}"))
        print(f"{entry.app}: {skipped[-1].skipped if skipped and skipped[-1].app == entry.app else 'done'}",
              flush=True)
    report(results, skipped, args.rounds, await browser_version())


if __name__ == "__main__":
    asyncio.run(main())
