"""Co-browsing end to end: the same scripted visit, leader alone, then co-browsed.

Each test runs a visit twice in real Chromium: first the leader alone (fresh session, the
target's hit log cleared), then the same visit with followers in their own browser contexts
(fresh session, hit log cleared again). After every step of the co-browsed run each follower's
document equals the leader's (``bodies_equal``: normalised body, toolbar aside), and at the end
the targets' hit counts equal the leader-alone run's: followers added no request anywhere.

Hits are compared as counts of (server, method, path, query); a test normalises the query only
where its page puts per-run values there on purpose, and says so. Counting is done at the
target servers (for Django, at a forwarder in front of it), never from the proxy's own books.

One Chromium serves the whole module (its tests share one event loop for that).

A follower that joins while the leader's SPA sits on a route reached by pushState loads that
route's URL as a document, which the driver never fetched (it loaded ``/app`` and pushed
``/app/one``): the proxy serves the driver's latest page for it and the page's router renders
the route (``ResponseStore.match(spa_route=True)``).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import pytest_asyncio
from django_target.server import ADMIN_PASSWORD, ADMIN_USER, start_django
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from world.browser import module_chromium
from world.e2e_sites import CHAT, RAND, SPA, Sites, start_sites
from world.front import start_counting_front
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse
from world.hits import Hit, HitLog
from world.party import BrowserParty as Party
from world.party import bodies_equal, join_follower, open_party
from world.sync_sites import SYNC_APPS
from world.targets import World, open_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

HitKey = tuple[str, str, str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module; it knows no fixture address (only ``*.localhost``)."""
    async with module_chromium() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module")
async def sites() -> AsyncIterator[Sites]:
    started = await start_sites()
    try:
        yield started
    finally:
        await started.close()


@pytest_asyncio.fixture(loop_scope="module")
async def sync_world() -> AsyncIterator[World]:
    async with open_world(SYNC_APPS) as started:
        yield started


@contextlib.asynccontextmanager
async def serving(overrides: dict[str, tuple[str, int]], **config: Any) -> AsyncIterator[Cobrowse]:
    server = await start_cobrowse(resolve_overrides=overrides, **config)
    try:
        yield server
    finally:
        await stop_cobrowse(server)


# -- the visit runner ------------------------------------------------------------------------------

Act = Callable[[Party], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the leader does, and how every participant knows it is done."""

    name: str
    url: str  # the real URL every participant shows afterwards
    act: Act | None = None  # None for the first step: the session starts there
    ready: str = "() => true"  # JS: the page has finished rendering what this step caused


def plain_key(hit: Hit) -> HitKey:
    return (hit.server, hit.method, hit.path, hit.query)


async def _settle(party: Party, step: Step, who: str) -> None:
    try:
        await party.wait_url(step.url)
        await party.wait_js(step.ready)
    except PlaywrightTimeout:
        url = await party.page.evaluate("() => window.__cbRuntime ? window.__cbRuntime.realHref() : location.href")
        raise AssertionError(f"after step {step.name!r} {who} never showed {step.url} ready; it is at {url}, "
                             f"showing:\n{await party.body()}") from None


async def run_visit(browser: Browser, server: Cobrowse, start: Step, steps: list[Step], followers: int,
                    log: HitLog, key: Callable[[Hit], HitKey] = plain_key) -> Counter[HitKey]:
    """Run the visit with ``followers`` followers; the targets' hit counts it caused.

    ``start.url`` is where the session starts. Every participant is
    in its own browser context; all of them are closed before the hits are counted.
    """
    log.clear()
    created = await server.create_session(start.url)
    leader = await open_party(browser, created["leader_url"])
    parties = [leader]
    try:
        await leader.wait_connected()
        await _settle(leader, start, "the leader")
        for i in range(followers):
            follower = await join_follower(browser, created, f"Follower {i + 1}",
                                           width=1200 - 160 * i, height=800 - 60 * i)
            parties.append(follower)
        await _check_step(leader, parties[1:], start)
        for step in steps:
            assert step.act is not None, f"step {step.name!r} does nothing"
            await step.act(leader)
            await _check_step(leader, parties[1:], step)
        for party in parties:
            await party.page.wait_for_load_state("networkidle")
    finally:
        for party in parties:
            await party.context.close()
    return Counter(key(h) for h in log)


async def _check_step(leader: Party, followers: list[Party], step: Step) -> None:
    await _settle(leader, step, "the leader")
    for i, follower in enumerate(followers, 1):
        await _settle(follower, step, f"follower {i}")
        try:
            left, right = await bodies_equal(leader, follower)
        except PlaywrightError:  # the follower's page went away mid-read (a drift repair reload)
            await _settle(follower, step, f"follower {i}")
            left, right = await bodies_equal(leader, follower)
        assert left == right, f"after step {step.name!r} follower {i}'s document differs from the leader's"


async def assert_followers_add_no_hits(browser: Browser, server: Cobrowse, start: Step, steps: list[Step],
                                       log: HitLog, followers: int = 1,
                                       key: Callable[[Hit], HitKey] = plain_key) -> Counter[HitKey]:
    alone = await run_visit(browser, server, start, steps, 0, log, key)
    together = await run_visit(browser, server, start, steps, followers, log, key)
    assert together == alone, f"hits with {followers} follower(s) differ from the leader alone"
    return together


def click(selector: str) -> Act:
    async def act(party: Party) -> None:
        await party.page.click(selector)

    return act


async def go_back(party: Party) -> None:
    await party.page.go_back()


# -- 1. SPA with pushState and volatile JSON requests -------------------------------------------

def spa_key(hit: Hit) -> HitKey:
    # `_` is Date.now() and `rid` crypto.randomUUID(): new values on every load, by design.
    query = urlencode(sorted((k, v) for k, v in parse_qsl(hit.query, keep_blank_values=True)
                             if k not in ("_", "rid")))
    return (hit.server, hit.method, hit.path, query)


def shown(route: str) -> str:
    return f"() => {{ const h = document.getElementById('shown'); return !!h && h.textContent.startsWith({route!r}); }}"


async def test_spa_routed_with_pushstate_and_volatile_json_is_followed_with_equal_target_hits(
        browser: Browser, sites: Sites) -> None:
    async with serving(sites.world.resolve_overrides()) as server:
        home = f"http://{SPA}/app"
        start = Step("open the app", home, ready=shown("/app #"))
        steps = [
            Step("route one", home + "/one", click("#r-one"), shown("/app/one #")),
            Step("route two", home + "/two", click("#r-two"), shown("/app/two #")),
            Step("back to one", home + "/one", go_back, shown("/app/one #")),
            Step("home again", home, click("#r-home"), shown("/app #")),
        ]
        hits = await assert_followers_add_no_hits(browser, server, start, steps, sites.log, key=spa_key)
        # One document load; every route's JSON asked for once per render, each with its own values.
        assert hits[(SPA, "GET", "/app", "")] == 1
        assert hits[(SPA, "GET", "/api/view", "route=%2Fapp%2Fone")] == 2
        assert hits[(SPA, "GET", "/api/view", "route=%2Fapp")] == 2
        # (Chromium also asks for /favicon.ico, once in each run: equal, so it is left in.)
        assert sum(n for (_, _, path, _), n in hits.items() if path != "/favicon.ico") == 6


async def test_follower_joining_while_leader_is_on_a_pushstate_route_lands_on_that_route(
        browser: Browser, sites: Sites) -> None:
    async with serving(sites.world.resolve_overrides(), follower_wait=2.0) as server:
        created = await server.create_session(f"http://{SPA}/app")
        leader = await open_party(browser, created["leader_url"])
        follower: Party | None = None
        try:
            await leader.wait_connected()
            await leader.page.click("#r-one")
            await _settle(leader, Step("route one", f"http://{SPA}/app/one", ready=shown("/app/one #")), "the leader")
            follower = await open_party(browser, created["follower_url"])
            await follower.page.fill("#name", "Vic")
            await follower.page.click("button[type=submit]")
            # Past follower_wait the landing has its answer: the route, or a 504 page without it.
            await follower.page.wait_for_function(shown("/app/one #"), timeout=6_000)
            await _check_step(leader, [follower], Step("joined", f"http://{SPA}/app/one", ready=shown("/app/one #")))
        finally:
            for party in (leader, follower):
                if party is not None:
                    await party.context.close()


# -- 2. URLs built from Math.random() and Date.now() -------------------------------------------

_STAMP = re.compile(r"^/api/at/\d{13}$")


def rand_key(hit: Hit) -> HitKey:
    # The page puts Math.random() and Date.now() in these on purpose: only the names are kept.
    path = "/api/at/{now}" if _STAMP.match(hit.path) else hit.path
    names = sorted(k for k, _ in parse_qsl(hit.query, keep_blank_values=True))
    fixed = [(k, v) for k, v in parse_qsl(hit.query) if k == "page"]
    return (hit.server, hit.method, path, "&".join(names) + "|" + urlencode(fixed))


DONE = "() => document.getElementById('done').textContent === 'done'"


async def test_page_building_urls_from_random_and_time_shows_leaders_results_with_equal_target_hits(
        browser: Browser, sites: Sites) -> None:
    async with serving(sites.world.resolve_overrides()) as server:
        start = Step("open", f"http://{RAND}/", ready=DONE)
        steps = [Step("next page", f"http://{RAND}/next", click("#next"), DONE)]
        hits = await assert_followers_add_no_hits(browser, server, start, steps, sites.log, key=rand_key)
        assert hits[(RAND, "GET", "/img/dot.png", "r|")] == 2
        assert hits[(RAND, "GET", "/img/dot.png", "r&t|")] == 2
        assert hits[(RAND, "GET", "/api/at/{now}", "|")] == 2
        assert sum(n for (_, _, path, _), n in hits.items() if path != "/favicon.ico") == 10


# -- 3. WebSocket chat -------------------------------------------------------------------------

def say(text: str, count: int) -> Step:
    async def act(party: Party) -> None:
        await party.page.fill("#msg", text)
        await party.page.click("#send")

    ready = f"() => document.querySelectorAll('#log li').length === {count + 1}"
    return Step(f"say {text!r}", f"http://{CHAT}/", act, ready)


async def test_websocket_chat_shows_follower_the_leaders_messages_and_target_hears_only_the_leader(
        browser: Browser, sites: Sites) -> None:
    async with serving(sites.world.resolve_overrides()) as server:
        start = Step("open", f"http://{CHAT}/", ready=
                     "() => document.getElementById('state').textContent === 'open'"
                     " && document.querySelectorAll('#log li').length === 1")
        steps = [say("hello from the leader", 1), say("a second line", 2)]
        alone = await run_visit(browser, server, start, steps, 0, sites.log)
        assert sites.said == ["hello from the leader", "a second line"]
        sites.said.clear()
        together = await run_visit(browser, server, start, steps, 1, sites.log)
        assert together == alone
        assert together[(CHAT, "GET", "/ws", "")] == 1
        # The follower's page ran the same click handler (ws.send): the proxy dropped its copy.
        assert sites.said == ["hello from the leader", "a second line"]


# -- 4. Django admin ---------------------------------------------------------------------------

NOTE_TITLE = "Note written while co-browsed"


async def _log_in(party: Party) -> None:
    await party.page.fill("#id_username", ADMIN_USER)
    await party.page.fill("#id_password", ADMIN_PASSWORD)
    await party.page.click("input[type=submit]")


async def _add_note(party: Party) -> None:
    await party.page.fill("#id_title", NOTE_TITLE)
    await party.page.click("input[name=_save]")


async def test_django_admin_cobrowsed_follower_sees_every_page_and_never_reaches_django(
        browser: Browser, tmp_path: Path) -> None:
    log = HitLog()
    async with start_django(tmp_path) as django:
        runner, port = await start_counting_front(log, "django.test", django.port)
        try:
            async with serving({"django.test:80": ("127.0.0.1", port)}) as server:
                base = "http://django.test/admin/"
                start = Step("login page", base + "login/?next=/admin/",
                             ready="() => !!document.getElementById('id_username')")
                steps = [
                    Step("log in", base, _log_in, "() => !!document.querySelector('#content h1')"),
                    Step("add form", base + "notes/note/add/", click("a[href='/admin/notes/note/add/']"),
                         "() => !!document.getElementById('id_title')"),
                    Step("save", base + "notes/note/", _add_note,
                         f"() => (document.getElementById('result_list') || {{}}).textContent"
                         f"?.includes({NOTE_TITLE!r})"),
                ]
                hits = await assert_followers_add_no_hits(browser, server, start, steps, log)
                assert hits[("django.test", "POST", "/admin/login/", "next=/admin/")] == 1
                assert hits[("django.test", "POST", "/admin/notes/note/add/", "")] == 1
        finally:
            await runner.cleanup()


# -- 5. Three followers across two origins -----------------------------------------------------

A, B = "http://sync-a.test/", "http://sync-b.test/"


async def test_three_followers_across_two_origins_add_no_target_hits(
        browser: Browser, sync_world: World) -> None:
    async with serving(sync_world.resolve_overrides()) as server:
        start = Step("site A", A)
        steps = [
            Step("page two", A + "two", click("#to-two")),
            Step("to site B", B, click("#to-b")),
            Step("back to A", A + "two", click("#to-a")),
            Step("history back", B, go_back),
        ]
        hits = await assert_followers_add_no_hits(browser, server, start, steps, sync_world.log, followers=3)
        assert hits[("sync-a.test", "GET", "/", "")] == 1
        assert hits[("sync-b.test", "GET", "/", "")] >= 1
