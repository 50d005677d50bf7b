"""The agent's console in real Chromium (issue 9, item 4): an agent runs a whole session from it.

The console (``GET /`` on the control plane) talks only to the REST API. The main flow: the agent
starts a session that needs approval, opens it as the agent, gets a PIN; a visitor types the PIN
on ``/pin``, gives a name and waits; the agent approves from the live list; both co-browse (the
agent's typing and click show on the visitor's side); the agent ends the session from the console
and the visitor sees the end. The same flow again by keyboard alone: every console control is
reached with Tab (in focus order, with a visible focus ring) and pressed with Enter or Space.
Throughout, the console page logs no error and throws nothing.

Also: giving and taking control, a named visitor link copied and used, removing a visitor;
finding a visitor of the integrator shop by the snippet's short id and watching them; the key
form when the key is missing or refused, the empty list, the server unreachable, a real 429;
a refresh of the live list that keeps the agent's focus where it was; every control named.
Refusals a test provokes show in Chromium's log as failed loads: ``unexpected`` takes out only
those, by status.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright
from world.apikeys import create_key
from world.browser import launch
from world.harness import API_KEY, Cobrowse, StartCobrowse, start_cobrowse, stop_cobrowse
from world.integrator_site import SHOP, ShopSettings, shop
from world.party import WAIT_MS, BrowserParty, lead, open_party
from world.targets import ServeWorld, World

A = "http://sync-a.test/"
TAB_LIMIT = 80
# What Chromium logs for an answer the page expected (a refusal, a server that is gone).
FAILED_LOAD = re.compile(
    r"console: Failed to load resource: (?:the server responded with a status of (\d+)|(net::ERR_\w+))")


# Visible controls without an accessible name (none should be).
NAMELESS = """() => [...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a[href]')]
  .filter((el) => el.getClientRects().length > 0)
  .filter((el) => !(el.getAttribute('aria-label') || [...(el.labels || [])].map((l) => l.textContent).join('')
                    || (el.localName === 'input' ? '' : el.textContent)).trim())
  .map((el) => el.outerHTML.slice(0, 120))"""


def unexpected(errors: list[str], *, refused: tuple[int, ...] = (), unreachable: bool = False) -> list[str]:
    """The errors left once the failed loads a test provoked (these statuses, or no server) are taken out."""
    left = []
    for error in errors:
        found = FAILED_LOAD.match(error)
        expected = found is not None and (int(found.group(1) or 0) in refused or (unreachable and bool(found.group(2))))
        if not expected:
            left.append(error)
    return left


@dataclass(slots=True)
class Console:
    """The console in its own browser context, with every error it logs or throws."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        def logged(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text}")

        self.page.on("console", logged)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    async def live(self, sid: str, selector: str = "") -> str:
        """The selector of session ``sid``'s item in the live list (or of ``selector`` inside it)."""
        item = f"#s-{sid}"
        await self.page.wait_for_selector(item, timeout=WAIT_MS)
        return f"{item} {selector}".strip()

    async def status(self) -> str:
        text: str = await self.page.inner_text("#status")
        return text


@pytest.fixture
async def server(sync_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sync_world.resolve_overrides())


OpenConsole = Callable[..., Awaitable[Console]]


async def console_in(browser: Browser, server: Cobrowse, key: str | None = API_KEY) -> Console:
    """The console in a new context of ``browser``, opened with ``#key=`` (``None``: no key)."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.control)
    console = Console(context, await context.new_page())
    console.watch()
    await console.page.goto(f"{server.control}/" + (f"#key={key}" if key is not None else ""))
    return console


@pytest.fixture
async def open_console(browser: Browser) -> AsyncIterator[OpenConsole]:
    """Factory: ``await open_console(server, key=...)``, ``console_in`` the ``browser`` fixture, closed at teardown."""
    opened: list[Console] = []

    async def opener(server: Cobrowse, key: str | None = API_KEY) -> Console:
        opened.append(await console_in(browser, server, key))
        return opened[-1]

    yield opener
    for console in opened:
        await console.context.close()


async def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the focused element matches ``selector``; it must show a focus ring."""
    for _ in range(TAB_LIMIT):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            ring = await page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
                return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }""")
            assert ring, f"{selector} has focus but no visible focus ring"
            return
    raise AssertionError(f"{selector} is not reachable with Tab within {TAB_LIMIT} presses")


async def join_with_pin(browser: Browser, server: Cobrowse, pin: str, name: str) -> BrowserParty:
    """A visitor types the PIN on the control plane's PIN page, then a name; answers on the waiting page."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.control}/pin")
    await page.fill("#pin", pin)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#name", timeout=WAIT_MS)
    await page.fill("#name", name)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#wait", timeout=WAIT_MS)
    return BrowserParty(context, page)


async def both_cobrowse(agent: BrowserParty, visitor: BrowserParty) -> None:
    """The agent's typing and click show on the visitor's side."""
    await visitor.wait_connected()
    await visitor.wait_url(A)
    await agent.page.click("#name")
    await agent.page.keyboard.type("from the agent")
    await visitor.wait_js("() => document.getElementById('name').value === 'from the agent'")
    await agent.page.click("#to-two")
    await visitor.wait_url(A + "two")


async def sees_the_end(visitor: BrowserParty) -> None:
    await visitor.wait_js("() => window.__cbSync.status().status === 'ended'")
    assert await visitor.toolbar(".ended h1").text_content() == "The session has ended"
    await visitor.page.reload()
    assert await visitor.page.inner_text("h1") == "This session has ended"


def session_id(console_url: str) -> str:
    found = re.search(r"/join/([a-z0-9]+)\?", console_url)
    assert found, console_url
    return found.group(1)


async def test_console_runs_a_session_start_pin_approve_cobrowse_end_without_console_errors(
        browser: Browser, server: Cobrowse, open_console: OpenConsole) -> None:
    console = await open_console(server)
    page = console.page
    await page.fill("#url", A)
    await page.check("#opt-approval")
    await page.check("#opt-view-only")
    await page.fill("#opt-mask", "#secret, .card-number")
    await page.click("#start-button")
    await page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    sid = session_id(await page.input_value("#follower"))
    options = json.loads((await server.api("GET", f"/api/v1/sessions/{sid}")).body)["options"]
    assert options["require_approval"] is True and options["view_only"] is True
    assert {"#secret", ".card-number"} <= set(options["mask_selectors"])

    async with console.context.expect_page(timeout=WAIT_MS) as opened:
        await page.click("#open")
    agent = BrowserParty(console.context, await opened.value)
    await agent.wait_connected()

    await page.click("#pin-button")
    await page.wait_for_selector("#pin-row:visible", timeout=WAIT_MS)
    pin = await page.get_attribute("#pin-out", "data-pin")
    assert pin and re.fullmatch(r"\d{6}", pin)

    visitor = await join_with_pin(browser, server, pin, "Vic")
    approve = await console.live(sid, "button[data-act=approve]:not([hidden])")
    await page.wait_for_selector(approve, timeout=WAIT_MS)
    assert "waiting for approval" in await page.inner_text(await console.live(sid, "tbody"))
    assert "Vic is waiting for your approval" in await console.status()
    assert await page.title() == "(1 waiting) cobrowse console"
    assert await page.evaluate(NAMELESS) == []
    await page.click(approve)

    await both_cobrowse(agent, visitor)
    row = await console.live(sid, "tbody")
    await page.wait_for_function(
        "(s) => /Vic\\s+visitor\\s+active/.test(document.querySelector(s).innerText)", arg=row, timeout=WAIT_MS)
    # A view-only session: the console offers no way to give the visitor control.
    assert await page.locator(await console.live(sid, "button[data-act=give]")).is_hidden()

    await page.click(await console.live(sid, "button[data-act=end]"))
    await page.click("#confirm-ok")
    await page.wait_for_selector(f"#s-{sid}", state="detached", timeout=WAIT_MS)
    await sees_the_end(visitor)
    assert f"Session {sid} ended" in await console.status()
    assert console.errors == []
    await visitor.context.close()


async def test_console_runs_the_same_session_by_keyboard_alone(
        browser: Browser, server: Cobrowse, open_console: OpenConsole) -> None:
    console = await open_console(server)
    page = console.page
    await tab_to(page, "#url")
    await page.keyboard.type(A)
    await tab_to(page, "#opt-approval")
    await page.keyboard.press("Space")
    assert await page.is_checked("#opt-approval")
    await tab_to(page, "#start-button")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    sid = session_id(await page.input_value("#follower"))
    assert await page.evaluate("() => document.activeElement.id") == "session"  # focus moved to the new session

    await tab_to(page, "#open")
    async with console.context.expect_page(timeout=WAIT_MS) as opened:
        await page.keyboard.press("Enter")
    agent = BrowserParty(console.context, await opened.value)
    await agent.wait_connected()
    await page.bring_to_front()

    await tab_to(page, "#pin-button")
    await page.keyboard.press("Space")
    await page.wait_for_selector("#pin-row:visible", timeout=WAIT_MS)
    pin = await page.get_attribute("#pin-out", "data-pin")
    assert pin

    visitor = await join_with_pin(browser, server, pin, "Vic")
    approve = await console.live(sid, "button[data-act=approve]:not([hidden])")
    await page.wait_for_selector(approve, timeout=WAIT_MS)
    await tab_to(page, approve)
    await page.keyboard.press("Enter")
    await both_cobrowse(agent, visitor)

    # Focus left the Approve button (it is gone) for the next action in the same session.
    assert await page.evaluate("(s) => document.querySelector(s).contains(document.activeElement)",
                               f"#s-{sid}")
    # The timeline link, drawn as a button, opens with Space as a button does.
    await tab_to(page, await console.live(sid, "a.button"))
    async with console.context.expect_page(timeout=WAIT_MS) as opened:
        await page.keyboard.press("Space")
    timeline = await opened.value
    await timeline.wait_for_load_state()
    assert timeline.url.endswith(f"/timeline/{sid}")
    await timeline.close()
    await page.bring_to_front()
    end = await console.live(sid, "button[data-act=end]")
    await tab_to(page, end)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#confirm[open]", timeout=WAIT_MS)
    assert await page.evaluate("() => document.activeElement.id") == "confirm-cancel"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#s-{sid}", state="detached", timeout=WAIT_MS)
    await sees_the_end(visitor)
    assert console.errors == []
    await visitor.context.close()


async def test_console_gives_and_takes_control_hands_out_a_named_link_and_removes_a_visitor(
        browser: Browser, server: Cobrowse, open_console: OpenConsole) -> None:
    created = await server.create_session(A)
    sid = str(created["id"])
    agent = await lead(browser, created)
    console = await open_console(server)
    page = console.page

    # A named, single-use visitor link, made in the console and copied to the clipboard.
    await page.click(await console.live(sid, "button[data-act=link]"))
    await page.fill(f"#s-{sid}-visitor", "Vic")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(await console.live(sid, "[data-role=link]:visible"), timeout=WAIT_MS)
    link = await page.input_value(await console.live(sid, "[data-role=link]"))
    assert f"/join/{sid}?" in link
    assert await page.evaluate("() => navigator.clipboard.readText()") == link
    visitor = await open_party(browser, link)
    await visitor.page.click("button[type=submit]")
    await visitor.wait_connected()
    assert visitor.id

    give = await console.live(sid, f"tr[data-pid='{visitor.id}'] button[data-act=give]:not([hidden])")
    await page.click(give)
    await visitor.wait_js("(me) => window.__cbSync.status().controller === me", visitor.id)
    await page.wait_for_selector(await console.live(sid, f"tr[data-pid='{visitor.id}'] .control:visible"),
                                 timeout=WAIT_MS)
    await visitor.page.fill("#name", "typed by Vic")
    await agent.wait_js("() => document.getElementById('name').value === 'typed by Vic'")

    # Taking control back from a driving visitor asks them first (the session's consent default).
    await page.click(await console.live(sid, "button[data-act=take]:not([hidden])"))
    await page.wait_for_function(
        "() => /asked to hand control back/.test(document.getElementById('status').textContent)", timeout=WAIT_MS)
    await visitor.toolbar(f"button[data-action=grant][data-to='{agent.id}']").click()
    await visitor.wait_js("(me) => window.__cbSync.status().controller !== me", visitor.id)
    await page.wait_for_selector(await console.live(sid, f"tr[data-pid='{agent.id}'] .control:visible"),
                                 timeout=WAIT_MS)

    await page.click(await console.live(sid, f"tr[data-pid='{visitor.id}'] button[data-act=remove]"))
    await page.click("#confirm-ok")
    await visitor.wait_js("() => window.__cbSync.status().status !== 'connected'")
    await page.wait_for_function(
        "(s) => { const row = document.querySelector(s); return !row || /removed/.test(row.innerText); }",
        arg=f"#s-{sid} tr[data-pid='{visitor.id}']", timeout=WAIT_MS)
    assert "was removed from session" in await console.status()
    assert console.errors == []


async def test_console_asks_for_the_key_then_says_the_server_refused_it_then_shows_the_empty_list(
        server: Cobrowse, open_console: OpenConsole) -> None:
    console = await open_console(server, key=None)
    page = console.page
    await page.wait_for_selector("#key-dialog[open]", timeout=WAIT_MS)
    assert "needs an API key" in await page.inner_text("#key-error")
    assert await page.evaluate("() => document.activeElement.id") == "key"
    await page.keyboard.type("not-the-key")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => document.getElementById('key-dialog').open"
        " && /refused the API key/.test(document.getElementById('key-error').textContent)", timeout=WAIT_MS)
    await page.keyboard.type(API_KEY)
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => /^No live sessions/.test(document.getElementById('live-state').textContent)", timeout=WAIT_MS)
    assert not await page.evaluate("() => document.getElementById('key-dialog').open")
    assert await page.evaluate("() => sessionStorage.getItem('cobrowse-key')") == API_KEY
    assert unexpected(console.errors, refused=(401,)) == []


async def test_console_says_when_the_server_cannot_be_reached(open_console: OpenConsole) -> None:
    server = await start_cobrowse()
    try:
        console = await open_console(server)
        page = console.page
        await page.wait_for_function(
            "() => /^No live sessions/.test(document.getElementById('live-state').textContent)", timeout=WAIT_MS)
    finally:
        await stop_cobrowse(server)
    await page.wait_for_function(
        "() => /Cannot reach the cobrowse server/.test(document.getElementById('live-state').textContent)",
        timeout=WAIT_MS)
    assert await page.get_attribute("#live-state", "class") == "state bad"
    assert unexpected(console.errors, unreachable=True) == []


async def test_console_says_when_the_server_limits_its_requests(
        start_server: StartCobrowse, open_console: OpenConsole) -> None:
    server = await start_server(api_rate=0.1, api_burst=1)
    console = await open_console(server)
    await console.page.wait_for_function(
        "() => /limiting requests\\. The list is loaded again in \\d+ s/"
        ".test(document.getElementById('live-state').textContent)",
        timeout=WAIT_MS)
    assert unexpected(console.errors, refused=(429,)) == []


async def test_a_refresh_of_the_live_list_keeps_focus_on_the_control_the_agent_is_on(
        server: Cobrowse, open_console: OpenConsole) -> None:
    first = await server.create_session(A)
    console = await open_console(server)
    page = console.page
    pin = await console.live(str(first["id"]), "button[data-act=pin]")
    await tab_to(page, pin)
    await page.evaluate("() => { document.activeElement.dataset.mark = 'kept'; }")
    second = await server.create_session(A)
    await page.wait_for_selector(f"#s-{second['id']} + #s-{first['id']}", timeout=WAIT_MS)
    assert await page.evaluate("() => document.activeElement.dataset.mark") == "kept"


async def test_console_checks_a_visitor_id_and_says_when_no_such_visitor_is_online(
        server: Cobrowse, open_console: OpenConsole) -> None:
    console = await open_console(server)
    page = console.page
    await tab_to(page, "#short-id")
    await page.keyboard.type("no!")
    await page.keyboard.press("Enter")
    assert await page.get_attribute("#short-id", "aria-invalid") == "true"
    assert "letters and digits" in await page.inner_text("#error")
    assert await page.evaluate("() => document.activeElement.id") == "short-id"
    await page.fill("#short-id", "ZZZZZZ")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => /No visitor with the id ZZZZZZ/.test(document.getElementById('error').textContent)", timeout=WAIT_MS)
    assert unexpected(console.errors, refused=(404,)) == []


async def test_console_finds_a_visitor_by_short_id_and_watches_them_once_they_allow(
        playwright: Playwright, serve_world: ServeWorld, start_server: StartCobrowse, tmp_path: Path) -> None:
    settings = ShopSettings()
    world = await serve_world({SHOP: shop(settings)})
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    settings.control, settings.api_port = server.control, server.port
    settings.site_key = create_key(tmp_path, "shop", "--site", "--origin", f"http://{SHOP}")
    settings.api_key = create_key(tmp_path, "shop-server", "--scope", "visitors:watch")
    # The visitor reaches the shop directly: this Chromium knows the shop's address.
    browser = await launch(playwright, (f"--host-resolver-rules={world.host_resolver_rules()}",))
    try:
        visitor_page = await (await browser.new_context()).new_page()
        await visitor_page.goto(f"http://{SHOP}/account")
        await visitor_page.wait_for_function("() => typeof window.Cobrowse === 'function'", timeout=WAIT_MS)
        short_id = await visitor_page.evaluate("() => new Promise((done) => Cobrowse('getShortId', done))")

        console = await console_in(browser, server)
        page = console.page
        await tab_to(page, "#short-id")
        await page.keyboard.type(short_id)
        async with console.context.expect_page(timeout=WAIT_MS) as opened:
            await page.keyboard.press("Enter")
        agent = BrowserParty(console.context, await opened.value)
        await agent.page.wait_for_selector("text=Waiting for the visitor to accept", timeout=WAIT_MS)
        assert f"Watching visitor {short_id}" in await console.status()
        assert await page.get_attribute("#watch-link", "rel") == "noopener noreferrer"

        allow = visitor_page.get_by_role("button", name="Allow")
        await allow.click(timeout=WAIT_MS)
        visitor = BrowserParty(visitor_page.context, visitor_page)
        await visitor.wait_url(f"http://{SHOP}/account")
        await agent.wait_url(f"http://{SHOP}/account")
        await visitor.page.fill("#city", "Oslo")
        await agent.wait_js("() => document.getElementById('city').value === 'Oslo'")
        # The session shows in the live list, the visitor in control.
        await page.wait_for_function(
            """() => [...document.querySelectorAll('#sessions .session')].some((s) => s.innerText.includes('shop.test')
                && [...s.querySelectorAll('tbody tr')].some((r) => /visitor/.test(r.innerText)
                    && !r.querySelector('.control').hidden))""", timeout=WAIT_MS)
        assert console.errors == []
    finally:
        await browser.close()


async def test_console_remembers_the_agents_name_and_starts_sessions_under_it(
        server: Cobrowse, open_console: OpenConsole) -> None:
    console = await open_console(server)
    page = console.page
    await page.fill("#name", "Ann Agent")
    await page.fill("#url", A)
    await page.press("#url", "Enter")
    await page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    sid = session_id(await page.input_value("#follower"))
    described = json.loads((await server.api("GET", f"/api/v1/sessions/{sid}")).body)
    assert described["agent"]["name"] == "Ann Agent"
    await page.reload()
    assert await page.input_value("#name") == "Ann Agent"
    assert console.errors == []


async def test_open_as_agent_from_the_list_opens_a_fresh_leader_link_and_keeps_it_on_the_page(
        server: Cobrowse, open_console: OpenConsole) -> None:
    created = await server.create_session(A)  # not started by this console: it has no leader link yet
    sid = str(created["id"])
    console = await open_console(server)
    page = console.page
    async with console.context.expect_page(timeout=WAIT_MS) as opened:
        await page.click(await console.live(sid, "button[data-act=open]"))
    agent = BrowserParty(console.context, await opened.value)
    await agent.wait_connected()
    assert (await agent.status())["me"]["role"] == "leader"
    assert await agent.page.evaluate("() => window.opener === null")
    kept = await console.live(sid, "a[data-role=agent-link]")
    await page.wait_for_selector(kept, timeout=WAIT_MS)
    assert f"/enter/{sid}?ticket=" in (await page.get_attribute(kept, "href") or "")
    assert await page.get_attribute(kept, "rel") == "noopener noreferrer"
    assert console.errors == []
