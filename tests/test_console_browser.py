"""The agent's console in real Chromium (issue 9, item 4): an agent runs a whole session from it.

The console (``GET /`` on the control plane) talks only to the REST API. The main flow: the agent
starts a session that needs approval, opens it as the agent, gets a PIN; a visitor types the PIN
on ``/pin``, gives a name and waits; the agent approves from the live list; both co-browse (the
agent's typing and click show on the visitor's side); the agent ends the session from the console
and the visitor sees the end. The same flow again by keyboard alone: every console control is
reached with Tab (in focus order, with a visible focus ring) and pressed with Enter or Space.
Throughout, the console page logs no error and throws nothing.

Also: the key form when the key is missing or refused, the empty list, the state shown when the
server cannot be reached, and a refresh of the live list that keeps the agent's focus where it was.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page
from world.harness import API_KEY, Cobrowse, StartCobrowse
from world.party import WAIT_MS, BrowserParty
from world.targets import World

A = "http://sync-a.test/"
TAB_LIMIT = 80


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


@pytest.fixture
async def open_console(browser: Browser) -> AsyncIterator[OpenConsole]:
    """Factory: ``await open_console(server, key=...)``, the console page opened with ``#key=`` (none: no key)."""
    opened: list[BrowserContext] = []

    async def opener(server: Cobrowse, key: str | None = API_KEY) -> Console:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        opened.append(context)
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.control)
        console = Console(context, await context.new_page())
        console.watch()
        await console.page.goto(f"{server.control}/" + (f"#key={key}" if key is not None else ""))
        return console

    yield opener
    for context in opened:
        await context.close()


async def tab_to(page: Page, selector: str, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector``; it must show a focus ring."""
    for _ in range(TAB_LIMIT):
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
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


async def cobrowse_and_end_seen(agent: BrowserParty, visitor: BrowserParty) -> None:
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
    await page.click("#start-button")
    await page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    sid = session_id(await page.input_value("#follower"))

    async with console.context.expect_page(timeout=WAIT_MS) as opened:
        await page.click("#open")
    agent = BrowserParty(console.context, await opened.value)
    await agent.wait_connected()

    await page.click("#pin-button")
    await page.wait_for_selector("#pin-out:not([hidden])", timeout=WAIT_MS)
    pin = await page.get_attribute("#pin-out", "data-pin")
    assert pin and re.fullmatch(r"\d{6}", pin)

    visitor = await join_with_pin(browser, server, pin, "Vic")
    approve = await console.live(sid, "button[data-act=approve]:not([hidden])")
    await page.wait_for_selector(approve, timeout=WAIT_MS)
    assert "waiting for approval" in await page.inner_text(await console.live(sid, "tbody"))
    assert "Vic is waiting for your approval" in await console.status()
    await page.click(approve)

    await cobrowse_and_end_seen(agent, visitor)
    row = await console.live(sid, "tbody")
    await page.wait_for_function(
        "(s) => /Vic\\s+visitor\\s+active/.test(document.querySelector(s).innerText)", arg=row, timeout=WAIT_MS)

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
    await page.wait_for_selector("#pin-out:not([hidden])", timeout=WAIT_MS)
    pin = await page.get_attribute("#pin-out", "data-pin")
    assert pin

    visitor = await join_with_pin(browser, server, pin, "Vic")
    approve = await console.live(sid, "button[data-act=approve]:not([hidden])")
    await page.wait_for_selector(approve, timeout=WAIT_MS)
    await tab_to(page, approve)
    await page.keyboard.press("Enter")
    await cobrowse_and_end_seen(agent, visitor)

    # Focus left the Approve button (it is gone) for the next action in the same session.
    assert await page.evaluate("(s) => document.querySelector(s).contains(document.activeElement)",
                               f"#s-{sid}")
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
