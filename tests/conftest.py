"""Shared fixtures: target worlds, Chromium, and a running cobrowse server.

``world`` is the fixture world (``world.WORLD_APPS``), ``sync_world`` the co-browsing sites
(``world.sync_sites``), ``serve_world`` serves any other set of sites (``{host: factory}``); each
is closed at teardown. ``start_server`` starts cobrowse servers with the given Config fields.

Chromium tests skip (with the reason) only when ``/usr/bin/chromium`` is missing; CI installs it.
Everything else runs for real on loopback: no mocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import fuzz  # noqa: F401  (registers and loads the Hypothesis profiles)
import pytest
from playwright.async_api import Browser, Playwright, async_playwright
from redis_server import running_redis
from world import WORLD_APPS, AppFactory, HitLog, World, start_world
from world.browser import CHROMIUM, launch
from world.harness import Cobrowse, StartCobrowse, start_cobrowse, stop_cobrowse
from world.sync_sites import SYNC_APPS
from world.targets import ServeWorld


@pytest.fixture
async def serve_world() -> AsyncIterator[ServeWorld]:
    """Factory: ``await serve_world({host: factory, ...}, log=None)``, a ``World`` closed at teardown."""
    running: list[World] = []

    async def serve(apps: Mapping[str, AppFactory], log: HitLog | None = None) -> World:
        started = await start_world(apps, log)
        running.append(started)
        return started

    try:
        yield serve
    finally:
        for started in reversed(running):
            await started.close()


@pytest.fixture
async def world(serve_world: ServeWorld) -> World:
    return await serve_world(WORLD_APPS)


@pytest.fixture
async def sync_world(serve_world: ServeWorld) -> World:
    """The co-browsing sites ``sync-a.test`` and ``sync-b.test``."""
    return await serve_world(SYNC_APPS)


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (CI installs Debian's chromium package)")
    async with async_playwright() as p:
        yield p


@pytest.fixture
async def direct_browser(playwright: Playwright, world: World) -> AsyncIterator[Browser]:
    """Chromium that reaches the world's hosts directly: for checking the world itself only."""
    browser = await launch(playwright, (f"--host-resolver-rules={world.host_resolver_rules()}",))
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """Chromium that knows no fixture address: only the proxy (``*.localhost``) is reachable."""
    launched = await launch(playwright)
    try:
        yield launched
    finally:
        await launched.close()


@pytest.fixture
async def start_server() -> AsyncIterator[StartCobrowse]:
    """Factory: ``await start_server(resolve_overrides=..., allow_private=..., ...)``."""
    running: list[Cobrowse] = []

    async def start(**config_fields: Any) -> Cobrowse:
        server = await start_cobrowse(**config_fields)
        running.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(running):
            await stop_cobrowse(server)


@pytest.fixture
async def cobrowse(world: World, start_server: StartCobrowse) -> Cobrowse:
    """A cobrowse server whose resolver maps the world's hosts to their loopback ports."""
    return await start_server(resolve_overrides=world.resolve_overrides())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One real ``redis-server`` for the whole run (``redis_server.running_redis``): no persistence,
    a loopback port of its own, stopped at the end. Tests keep to namespaces of their own."""
    with running_redis() as url:
        yield url
