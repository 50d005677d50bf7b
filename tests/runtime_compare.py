"""One page of a small site, loaded directly and through cobrowse: what the page's own script
reads (its *views*) must be the same in both (issue 7's runtime tests).

``compared(apps, url, views)`` serves the site (``world.start_world``), starts the cobrowse
server, loads ``url`` once in a Chromium that reaches the site directly (host-resolver rules)
and collects ``views(page)``; it then yields a ``Compared`` with a second Chromium that knows
no address of the site, so through the proxy a page can load only what the runtime mapped.
``window_views`` reads the views pages keep in ``window.__v``. ``proxied_page`` opens ``url``
as a new session's leader; ``recorder`` holds every URL the
proxied browser asked for, so a test can assert that none left the proxy space.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout
from world import AppFactory, World, start_world
from world.browser import CHROMIUM, RequestRecorder, launch
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse

Views = Callable[[Page], Awaitable[dict[str, object]]]


async def window_views(page: Page, names: tuple[str, ...], timeout_ms: float = 20_000) -> dict[str, object]:
    """``window.__v[name]`` for each name, once all are in; one that never came reads
    ``"missing"`` (so the comparison names it instead of a timeout)."""
    with contextlib.suppress(PlaywrightTimeout):
        await page.wait_for_function("(names) => window.__v && names.every((n) => n in window.__v)",
                                     arg=list(names), timeout=timeout_ms)
    seen: dict[str, object] = json.loads(await page.evaluate("() => JSON.stringify(window.__v || {})"))
    return {name: seen.get(name, "missing") for name in names}


@dataclass(slots=True)
class Compared:
    world: World
    server: Cobrowse
    browser: Browser  # the proxied one
    direct: dict[str, object]  # the views read directly
    recorder: RequestRecorder
    url: str

    async def proxied_page(self) -> Page:
        session = await self.server.create_session(self.url)
        context = await self.browser.new_context()
        self.recorder.attach(context)
        page = await context.new_page()
        await page.goto(session["leader_url"])
        return page


@asynccontextmanager
async def compared(apps: Mapping[str, AppFactory], url: str, views: Views) -> AsyncIterator[Compared]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    world = await start_world(apps)
    server = await start_cobrowse(resolve_overrides=world.resolve_overrides())
    try:
        async with async_playwright() as p:
            direct_browser = await launch(p, (f"--host-resolver-rules={world.host_resolver_rules()}",))
            try:
                page = await (await direct_browser.new_context()).new_page()
                await page.goto(url)
                direct = await views(page)
            finally:
                await direct_browser.close()
            browser = await launch(p)
            try:
                yield Compared(world, server, browser, direct, RequestRecorder(), url)
            finally:
                await browser.close()
    finally:
        await stop_cobrowse(server)
        await world.close()
