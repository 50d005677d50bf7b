"""Threat-model row "the leak suite": one proxied page tries every way to reach its real origin.

The page (``leak_site.py``) is served as ``http://leak.test`` through the proxy, whose resolver
maps ``leak.test`` to the site. Chromium's own resolver maps ``leak.test`` and ``*.leak.test``
to a canary, and TURN is pointed at the canary's address: a request that escapes the proxy
space lands on the canary and is named by its path. Everything runs once per module (one
site, one proxy, one Chromium, one page load); each way is then its own test, which checks the
way's positive fence (its proxied twin reached the site, or the page reported the attempt
done) before asserting the canary saw nothing of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from leak_site import HOST, WAYS, leak_app
from playwright.async_api import async_playwright
from world.browser import CHROMIUM, launch
from world.canary import Canary, fresh_loopback
from world.harness import start_cobrowse, stop_cobrowse
from world.targets import serve_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

FENCE_SECONDS = 45
RTC_HOST = f"webrtc-turn.{HOST}"


@dataclass(slots=True)
class LeakRun:
    canary: Canary
    rtc_canary: Canary  # TURN speaks binary: its own canary names the way
    twins: set[str] = field(default_factory=set)  # /hit/<name> paths the site received
    done: set[str] = field(default_factory=set)  # ways the page reported done

    def fenced(self, way: str) -> bool:
        return way in self.done if WAYS[way] == "done" else way in self.twins

    def leaks_of(self, way: str) -> list[bytes]:
        if way == "webrtc-turn":
            return list(self.rtc_canary.first_bytes)
        needle = f"/hit/{way}".encode()
        return [b for b in self.canary.first_bytes if needle in b or f"{way}.{HOST}".encode() in b]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def leak_run() -> AsyncIterator[LeakRun]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    canary = await Canary(fresh_loopback()).start()
    rtc_canary = await Canary(fresh_loopback()).start()
    run = LeakRun(canary, rtc_canary)
    # A host name, not the canary's address: Chromium's ICE skips loopback literals.
    turn = f"turn:{RTC_HOST}:3478?transport=tcp"
    runner, port = await serve_app(leak_app(turn, run.twins.add))
    server = await start_cobrowse(resolve_overrides={f"{HOST}:80": ("127.0.0.1", port)})
    try:
        async with async_playwright() as p:
            rules = f"MAP {RTC_HOST} {rtc_canary.netloc},MAP {HOST} {canary.netloc},MAP *.{HOST} {canary.netloc}"
            browser = await launch(p, (f"--host-resolver-rules={rules}",))
            try:
                session = await server.create_session(f"http://{HOST}/")
                context = await browser.new_context(accept_downloads=True)
                page = await context.new_page()
                await page.goto(session["leader_url"])
                deadline = time.monotonic() + FENCE_SECONDS
                while time.monotonic() < deadline:
                    run.done = set(await page.evaluate(
                        "(ways) => ways.filter((w) => { const e = document.getElementById(w);"
                        " return e && e.textContent === 'done'; })",
                        [w for w, f in WAYS.items() if f == "done"],
                    ))
                    if all(run.fenced(w) for w in WAYS):
                        break
                    await asyncio.sleep(0.2)
                yield run
            finally:
                await browser.close()
    finally:
        await stop_cobrowse(server)
        await runner.cleanup()
        await canary.close()
        await rtc_canary.close()


@pytest.mark.parametrize("way", list(WAYS))
async def test_leak_way_reaches_only_the_proxy(leak_run: LeakRun, way: str) -> None:
    """Each way ran (fence), and nothing of it reached the real origin (the canary)."""
    assert leak_run.fenced(way), f"{way}: no {WAYS[way]} seen, so the attempt is unproven"
    assert leak_run.leaks_of(way) == []


async def test_leak_canary_saw_no_connection_at_all(leak_run: LeakRun) -> None:
    """Also catches what cannot be named by path (TLS, TURN, a stray favicon)."""
    assert all(leak_run.fenced(w) for w in WAYS)
    assert leak_run.canary.connections == 0, leak_run.canary.report()
    assert leak_run.rtc_canary.connections == 0, leak_run.rtc_canary.report()


async def test_leak_suite_tries_at_least_thirty_ways(leak_run: LeakRun) -> None:
    assert len(WAYS) >= 30
