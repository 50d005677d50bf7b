"""Issue 9 item 2 in real Chromium: a visitor on an integrator's site is watched through a watch link.

The shop (``world/integrator_site.py``) carries the snippet. The visitor signs in there (an
HttpOnly session cookie and a plain one), puts something in ``localStorage``, half fills a form
(and types a password, which must stay behind); the agent asks the API for a watch URL by the
visitor's short id and opens it; the visitor allows; then both browsers show the visitor's page
through the proxy with the visitor's state: the content only the HttpOnly cookie unlocks (handed
over by the shop's continuation endpoint), the cookie a page can read, the stored value the page's
own script read at load, the form values. The visitor drives: typing and a click on a link are
replayed to the agent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Playwright
from world.apikeys import create_key
from world.browser import launch
from world.harness import Cobrowse, StartCobrowse
from world.integrator_site import SHOP, USER, ShopSettings, shop
from world.party import BrowserParty
from world.targets import World, start_world

ACCOUNT = f"http://{SHOP}/account"
ORDERS = f"http://{SHOP}/orders"
WAIT_MS = 15_000


@pytest.fixture
async def shop_world() -> AsyncIterator[tuple[World, ShopSettings]]:
    settings = ShopSettings()
    world = await start_world({SHOP: shop(settings)})
    try:
        yield world, settings
    finally:
        await world.close()


@pytest.fixture
async def server(shop_world: tuple[World, ShopSettings], start_server: StartCobrowse, tmp_path: Path) -> Cobrowse:
    world, settings = shop_world
    started = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    settings.control = started.control
    settings.api_port = started.port
    settings.site_key = create_key(tmp_path, "shop", "--site", "--origin", f"http://{SHOP}")
    settings.api_key = create_key(tmp_path, "shop-server", "--scope", "visitors:watch")
    return started


@pytest.fixture
async def shop_browser(playwright: Playwright, shop_world: tuple[World, ShopSettings]) -> AsyncIterator[Browser]:
    """Chromium that reaches the shop directly (the visitor's first visit) and the proxy."""
    launched = await launch(playwright, (f"--host-resolver-rules={shop_world[0].host_resolver_rules()}",))
    try:
        yield launched
    finally:
        await launched.close()


async def short_id_of(page: Page) -> str:
    await page.wait_for_function("() => typeof window.Cobrowse === 'function'", timeout=WAIT_MS)
    found: str = await page.evaluate("() => new Promise((done) => Cobrowse('getShortId', done))")
    return found


async def visitor_on_the_shop(browser: Browser) -> Page:
    """A visitor signed in at the shop, with a stored cart and a half-filled address form."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://{SHOP}/login")
    await page.fill("#user", USER)
    await page.fill("#password", "shop-password")
    await page.click("#go")
    await page.wait_for_url(ACCOUNT)
    assert await page.text_content("#who") == f"Signed in as {USER}"
    await page.evaluate("() => { localStorage.setItem('cart', '3 apples'); localStorage.setItem('token', 't0k3n'); }")
    await page.fill("#street", "Storgata 1")
    await page.check("#gift")
    await page.fill("#pin", "4321")  # a password field: never carried over
    return page


async def page_state(party: BrowserParty) -> dict[str, Any]:
    state: dict[str, Any] = await party.page.evaluate("""() => ({
        who: document.getElementById('who').textContent, lang: document.getElementById('lang').textContent,
        cart: document.getElementById('cart').textContent, street: document.getElementById('street').value,
        city: document.getElementById('city').value, gift: document.getElementById('gift').checked,
        pin: document.getElementById('pin').value, token: localStorage.getItem('token') })""")
    return state


async def test_the_agent_watches_a_consenting_visitor_with_the_visitors_state_and_actions(
        shop_browser: Browser, server: Cobrowse, shop_world: tuple[World, ShopSettings]) -> None:
    world, _ = shop_world
    visitor_page = await visitor_on_the_shop(shop_browser)
    short_id = await short_id_of(visitor_page)

    made = await server.api("POST", f"/api/v1/visitors/{short_id}/watch_url", {"agent": {"id": "a1", "name": "Ann"}})
    assert made.status == 201, made.text
    agent_context = await shop_browser.new_context()
    agent_page = await agent_context.new_page()
    await agent_page.goto(json.loads(made.body)["watch_url"])
    assert await agent_page.text_content("#title") == "Waiting for the visitor to accept"

    allow = visitor_page.get_by_role("button", name="Allow")
    await allow.wait_for(timeout=WAIT_MS)
    assert "Ann would like to see this page" in (await visitor_page.get_by_role("dialog").text_content() or "")
    await allow.click()

    visitor, agent = BrowserParty(visitor_page.context, visitor_page), BrowserParty(agent_context, agent_page)
    await visitor.wait_url(ACCOUNT)
    await agent.wait_url(ACCOUNT)
    expected = {"who": f"Signed in as {USER}", "lang": "lang: nb", "cart": "3 apples", "street": "Storgata 1",
                "city": "", "gift": True, "pin": "", "token": None}  # the shop keeps "token" back
    await visitor.wait_js("() => document.getElementById('street').value === 'Storgata 1'")
    await agent.wait_js("() => document.getElementById('street').value === 'Storgata 1'")
    assert await page_state(visitor) == expected
    assert await page_state(agent) == expected
    visitor_status, agent_status = await visitor.status(), await agent.status()
    assert visitor_status["controller"] == visitor_status["me"]["id"]  # the visitor drives
    assert agent_status["me"]["role"] == "leader"
    # The shop's continuation endpoint handed the HttpOnly cookie over once, and it went upstream.
    assert [h.path for h in world.log.for_server(SHOP)].count("/cobrowse/continue") == 1

    await visitor.page.fill("#city", "Oslo")
    await agent.wait_js("() => document.getElementById('city').value === 'Oslo'")
    await visitor.page.click("#orders")
    await visitor.wait_url(ORDERS)
    await agent.wait_url(ORDERS)
    assert await agent.page.text_content("#orders-of") == f"Orders of {USER}"
    assert await visitor.page.text_content("#orders-of") == f"Orders of {USER}"

    # The agent may ask for control: the visitor who drives is asked first, and allows it.
    await agent.wait_connected()
    await agent.toolbar("button[data-action=take][data-asks]").click()
    await visitor.toolbar(f"button[data-action=grant][data-to='{agent.id}']").click()
    await visitor.wait_js("(id) => window.__cbSync.status().controller === id", arg=agent.id)


async def test_a_visitor_who_declines_is_not_moved_and_the_agent_is_told(
        shop_browser: Browser, server: Cobrowse) -> None:
    visitor_page = await visitor_on_the_shop(shop_browser)
    short_id = await short_id_of(visitor_page)
    made = await server.api("POST", f"/api/v1/visitors/{short_id}/watch_url", {"agent": {"name": "Ann"}})
    agent_page = await (await shop_browser.new_context()).new_page()
    await agent_page.goto(json.loads(made.body)["watch_url"])
    decline = visitor_page.get_by_role("button", name="Decline")
    await decline.wait_for(timeout=WAIT_MS)
    await decline.click()
    await agent_page.wait_for_function(
        "() => document.getElementById('title').textContent === 'The visitor declined'", timeout=WAIT_MS)
    assert visitor_page.url == ACCOUNT


async def test_the_button_and_show_id_tell_the_visitor_its_id_and_get_watch_link_works_on_the_page(
        shop_browser: Browser, server: Cobrowse) -> None:
    visitor_page = await visitor_on_the_shop(shop_browser)
    short_id = await short_id_of(visitor_page)
    await visitor_page.get_by_role("button", name="Co-browse this page").click()
    badge = visitor_page.get_by_role("status")
    await badge.wait_for(timeout=WAIT_MS)
    assert (await badge.text_content() or "").replace(" ", "").endswith(short_id)
    await visitor_page.evaluate("() => Cobrowse('hideId')")
    await badge.wait_for(state="detached", timeout=WAIT_MS)
    await visitor_page.evaluate("() => Cobrowse('showId')")
    await badge.wait_for(timeout=WAIT_MS)
    link: str = await visitor_page.evaluate("() => new Promise((done) => Cobrowse('getWatchLink', done))")
    assert link.startswith(f"{server.control}/watch/")


async def test_start_session_moves_the_visitor_at_once_and_a_watch_link_joins_it_and_stop_ends_it(
        shop_browser: Browser, server: Cobrowse) -> None:
    visitor_page = await visitor_on_the_shop(shop_browser)
    short_id = await short_id_of(visitor_page)
    await visitor_page.evaluate("() => Cobrowse('startSession')")  # the visitor's own click: no question
    visitor = BrowserParty(visitor_page.context, visitor_page)
    await visitor.wait_url(ACCOUNT)
    assert (await page_state(visitor))["who"] == f"Signed in as {USER}"

    made = await server.api("POST", f"/api/v1/visitors/{short_id}/watch_url", {"agent": {"name": "Ann"}})
    agent_page = await (await shop_browser.new_context()).new_page()
    await agent_page.goto(json.loads(made.body)["watch_url"])
    agent = BrowserParty(agent_page.context, agent_page)
    await agent.wait_url(ACCOUNT)
    assert (await page_state(agent))["cart"] == "3 apples"

    # Back on the shop in another tab (the same visitor: its token is in the shop's storage), it stops.
    shop_tab = await visitor_page.context.new_page()
    await shop_tab.goto(ACCOUNT)
    assert await short_id_of(shop_tab) == short_id
    await shop_tab.evaluate("() => new Promise((done) => { Cobrowse('on', 'sessionEnd', done); "
                            "Cobrowse('stopSession'); })")
    await agent.wait_js("() => window.__cbSync.status().status === 'ended'")
