"""A session's branding (``sessions.branding``) as the agent meets it, in real Chromium and at the door.

- ``naked``: the agent's pages carry no cobrowse chrome at all (no <cobrowse-ui>), while the
  visitor's page keeps its bar (where the visitor is asked for control and sees who watches);
- ``no_bottom_bar``: the agent keeps the overlays (a visitor's pointer shows) but has no bar;
- ``retry_url``: the agent's used entry link leads to it (303) instead of the refusal page.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Browser
from world.harness import Cobrowse, StartCobrowse
from world.party import BrowserParty, join, open_party, point_and_see
from world.targets import World

from sessions.branding import Branding, chrome

START = "http://sync-a.test/"
RETRY = "https://help.example.com/new-link"


@pytest.fixture
async def server(sync_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sync_world.resolve_overrides())


async def create(server: Cobrowse, branding: dict[str, Any]) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": START, "options": {"branding": branding}})
    assert reply.status == 201, reply.text
    created: dict[str, Any] = json.loads(reply.body)
    return created


async def agent(browser: Browser, created: dict[str, Any]) -> BrowserParty:
    """The leader's link opened and its sync socket connected (whatever chrome it shows)."""
    party = await open_party(browser, created["leader_url"])
    await party.page.wait_for_function("() => window.__cbSync && window.__cbSync.status().status === 'connected'",
                                       timeout=30_000)
    return party


def test_only_the_agent_s_chrome_is_trimmed() -> None:
    table = {(naked, bar, role): chrome(Branding(naked=naked, no_bottom_bar=bar), role)
             for naked in (False, True) for bar in (False, True) for role in ("leader", "follower")}
    assert table == {(False, False, "leader"): "full", (False, True, "leader"): "overlays",
                     (True, False, "leader"): "none", (True, True, "leader"): "none",
                     **{(n, b, "follower"): "full" for n in (False, True) for b in (False, True)}}


async def test_a_naked_session_shows_the_agent_no_chrome_and_the_visitor_all_of_it(
        browser: Browser, server: Cobrowse) -> None:
    created = await create(server, {"naked": True})
    leader = await agent(browser, created)
    follower = await join(browser, created, "Vic")
    await follower.wait_url(START)
    await follower.toolbar(".bar button[data-action=request]").wait_for()
    await leader.page.wait_for_function(
        "() => window.__cbSync.status().participants.filter((p) => p.connected).length === 2")
    assert await leader.page.evaluate("() => document.querySelectorAll('cobrowse-ui').length") == 0
    # Still co-browsing: the agent's typing shows on the visitor's page.
    await leader.page.click("#title")
    await leader.page.keyboard.press("k")
    await follower.wait_js("() => document.getElementById('keys').textContent === 'keys: k'")


async def test_no_bottom_bar_keeps_the_agent_s_overlays_without_the_bar(browser: Browser, server: Cobrowse) -> None:
    created = await create(server, {"no_bottom_bar": True})
    leader = await agent(browser, created)
    follower = await join(browser, created, "Vic")
    await follower.wait_url(START)
    await follower.toolbar(".bar").wait_for()
    await point_and_see(follower, leader)
    assert await leader.page.evaluate(
        "() => document.querySelector('cobrowse-ui').shadowRoot.querySelectorAll('.bar').length") == 0


async def test_a_used_entry_link_leads_to_the_retry_url_when_the_session_has_one(server: Cobrowse) -> None:
    branded, plain = await create(server, {"retry_url": RETRY}), await create(server, {})
    for created in (branded, plain):
        assert (await server.redeem(created["leader_url"])).status == 302
    again = await server.request("GET", branded["leader_url"], cookies={})
    assert again.status == 303 and again.headers["Location"] == RETRY
    refused = await server.request("GET", plain["leader_url"], cookies={})
    assert refused.status == 403 and "already been used" in refused.text
