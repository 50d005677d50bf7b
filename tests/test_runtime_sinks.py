"""Issue 7, item 2: every sink a page script loads through stays in the proxy space.

The sinks page (``world/sinks.py``) is loaded once directly and once through cobrowse (one
site, one proxy, two Chromiums, per module). Through the proxy Chromium knows no address of
the site, so a sink can only load if the runtime mapped its URL. Each sink is then its own test:
(a) no request Chromium made through the proxy left ``*.cobrowse.localhost``;
(b) the site received the sink's paths in both runs (it really loaded, and through the proxy);
(c) what the page's own script read back (its view) is the same in both runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright
from world import HitLog, World, start_world
from world.browser import CHROMIUM, RequestRecorder, launch, wait_checks
from world.harness import DOMAIN, start_cobrowse, stop_cobrowse
from world.sinks import HOST, ORIGIN, SINKS, make_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

FENCE_SECONDS = 20


@dataclass(slots=True)
class Run:
    views: dict[str, str] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)  # what the site received


@dataclass(slots=True)
class SinkRuns:
    direct: Run
    proxied: Run
    recorder: RequestRecorder


async def load(browser: Browser, url: str, log: HitLog, recorder: RequestRecorder | None = None) -> Run:
    """Open ``url``, wait for every check, then (fence) for every sink's paths at the site."""
    context = await browser.new_context()
    if recorder is not None:
        recorder.attach(context)
    page = await context.new_page()
    await page.goto(url)
    run = Run(views=await wait_checks(page, tuple(SINKS)))
    wanted = {p for paths in SINKS.values() for p in paths}
    # Short of a path, the sink's own test names it: the wait only ends early.
    with contextlib.suppress(AssertionError):
        await log.wait_for(lambda seen: wanted <= seen.paths(HOST), "every sink's paths", FENCE_SECONDS)
    run.paths = log.paths(HOST)
    await context.close()
    return run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runs() -> AsyncIterator[SinkRuns]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    world: World = await start_world({HOST: make_app})
    server = await start_cobrowse(resolve_overrides=world.resolve_overrides())
    try:
        async with async_playwright() as p:
            # Directly, the site is made a secure context as its proxy host is (*.localhost):
            # worklets and service workers exist only there.
            direct_browser = await launch(p, (f"--host-resolver-rules={world.host_resolver_rules()}",
                                              f"--unsafely-treat-insecure-origin-as-secure={ORIGIN}"))
            try:
                direct = await load(direct_browser, f"{ORIGIN}/", world.log)
            finally:
                await direct_browser.close()
            world.log.clear()
            browser = await launch(p)
            try:
                session = await server.create_session(f"{ORIGIN}/")
                recorder = RequestRecorder()
                proxied = await load(browser, session["leader_url"], world.log, recorder)
            finally:
                await browser.close()
        yield SinkRuns(direct, proxied, recorder)
    finally:
        await stop_cobrowse(server)
        await world.close()


@pytest.mark.parametrize("sink", list(SINKS))
async def test_sink_loads_through_the_proxy_and_the_page_reads_back_what_it_wrote(runs: SinkRuns, sink: str) -> None:
    direct = runs.direct.views[sink]
    assert direct.startswith("view "), f"{sink} does not work directly, so the test proves nothing: {direct}"
    missing_direct = set(SINKS[sink]) - runs.direct.paths
    assert not missing_direct, f"{sink}: directly, the site never received {sorted(missing_direct)}"
    assert [u for u in runs.recorder.outside(DOMAIN) if sink in u] == []
    missing = set(SINKS[sink]) - runs.proxied.paths
    assert not missing, f"{sink}: through the proxy, the site never received {sorted(missing)}"
    assert runs.proxied.views[sink] == direct


async def test_sinks_page_made_no_request_outside_the_proxy_space(runs: SinkRuns) -> None:
    assert all(v != "pending" for v in runs.proxied.views.values())  # fence: every check ran
    assert runs.recorder.outside(DOMAIN) == []
