"""Participants in real Chromium: each its own browser context (cookie store) and page, as two people would be.

``lead(browser, created)`` opens a session's leader link; ``join(browser, created, name)`` joins as a
follower through the join page; ``start_pair`` does both on a new session. (``world.sync_client``
builds scripted participants, raw sync sockets, with the same names.) Everything the tests read goes
through the page (``window.__cbSync``, ``__cbRuntime``, the DOM), so no test depends on the
runtime's internals.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute

from world.harness import Cobrowse

WAIT_MS = 15_000

# The body as text + structure + field values, without scripts, styles or the toolbar, and with
# proxy URLs taken out of each participant's view: the "document equals" test compares this
# between participants.
NORMALISED_BODY = """() => {
  const out = [];
  const skip = new Set(['script', 'style', 'noscript', 'template', 'cobrowse-ui']);
  const walk = (node) => {
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) { const t = c.data.replace(/\\s+/g, ' ').trim(); if (t) out.push(t); }
      else if (c.nodeType === 1 && !skip.has(c.localName)) {
        // Each participant's proxy hosts carry its own view (docs/participant-hosts.md): not a difference.
        const attrs = Array.from(c.attributes)
          .map((a) => a.name + '=' + a.value.replace(/(--[a-z2-7]{10})-[a-z0-9]{4}\\./g, '$1.')).sort().join(' ');
        out.push('<' + c.localName + (attrs ? ' ' + attrs : '') + '>');
        if (c.localName === 'input' || c.localName === 'textarea' || c.localName === 'select') {
          out.push('value=' + (c.type === 'checkbox' || c.type === 'radio' ? c.checked : c.value));
        }
        walk(c);
        out.push('</' + c.localName + '>');
      }
    }
  };
  walk(document.body);
  return out.join('\\n');
}"""


@dataclass(slots=True)
class BrowserParty:
    """One participant in Chromium: its own browser context (cookie store) and page; ``id`` once connected."""

    context: BrowserContext
    page: Page
    id: str = ""

    async def status(self) -> dict[str, Any]:
        got: dict[str, Any] = await self.page.evaluate("() => window.__cbSync ? window.__cbSync.status() : null")
        return got

    async def real_url(self) -> str:
        url: str = await self.page.evaluate("() => window.__cbRuntime.realHref()")
        return url

    async def body(self) -> str:
        text: str = await self.page.evaluate(NORMALISED_BODY)
        return text

    async def wait_connected(self) -> None:
        await self.page.wait_for_function(
            "() => window.__cbSync && window.__cbSync.status().status === 'connected'"
            " && document.querySelector('cobrowse-ui')", timeout=WAIT_MS)
        self.id = (await self.status())["me"]["id"]

    async def wait_url(self, url: str) -> None:
        await self.page.wait_for_function(
            "(u) => window.__cbRuntime && window.__cbRuntime.realHref() === u"
            " && window.__cbSync && window.__cbSync.status().status === 'connected'"
            " && document.readyState !== 'loading'", arg=url, timeout=WAIT_MS)

    async def wait_js(self, expression: str, arg: Any = None) -> None:
        await self.page.wait_for_function(expression, arg=arg, timeout=WAIT_MS)

    def toolbar(self, selector: str) -> Any:
        # Playwright's CSS engine pierces open shadow roots, so the toolbar's buttons are reachable.
        return self.page.locator(f"cobrowse-ui {selector}")


Prepare = Callable[[BrowserContext], Awaitable[None]]
Size = tuple[int, int]
DEFAULT_SIZE: Size = (1200, 800)


async def open_party(browser: Browser, url: str, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1],
                     before: Prepare | None = None) -> BrowserParty:
    """A new context (``before`` may route or script it first) whose page has opened ``url``."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    if before is not None:
        await before(context)
    page = await context.new_page()
    await page.goto(url)
    return BrowserParty(context, page)


async def lead(browser: Browser, created: dict[str, Any], size: Size = DEFAULT_SIZE,
               before: Prepare | None = None) -> BrowserParty:
    """The session's leader: its link opened, its sync socket connected."""
    party = await open_party(browser, created["leader_url"], *size, before)
    await party.wait_connected()
    return party


async def join(browser: Browser, created: dict[str, Any], name: str = "Vic", size: Size = DEFAULT_SIZE,
               before: Prepare | None = None) -> BrowserParty:
    """A follower: the join page filled in as ``name``, its sync socket connected."""
    party = await open_party(browser, created["follower_url"], *size, before)
    await party.page.fill("#name", name)
    await party.page.click("button[type=submit]")
    await party.wait_connected()
    return party


async def join_follower(browser: Browser, created: dict[str, Any], name: str = "Vic", width: int = DEFAULT_SIZE[0],
                        height: int = DEFAULT_SIZE[1], before: Prepare | None = None) -> BrowserParty:
    """``join`` with the size as two numbers (the older spelling)."""
    return await join(browser, created, name, (width, height), before)


async def start_pair(browser: Browser, server: Cobrowse, url: str, *, leader_size: Size = DEFAULT_SIZE,
                     follower_size: Size = DEFAULT_SIZE) -> tuple[dict[str, Any], BrowserParty, BrowserParty]:
    """A session on ``url`` with a connected leader and a follower showing ``url``."""
    created = await server.create_session(url)
    leader = await lead(browser, created, leader_size)
    follower = await join(browser, created, "Vic", follower_size)
    await follower.wait_url(url)
    await leader.wait_js("() => window.__cbSync.status().participants.filter((p) => p.connected).length === 2")
    return created, leader, follower


class SocketCutter:
    """Sits on a context's sync sockets (Playwright's WebSocket routing, which forwards to the real
    server): ``drop()`` kills the live one as a network failure would, and refuses new ones until
    ``restore()``."""

    def __init__(self) -> None:
        self.routes: list[WebSocketRoute] = []
        self.blocked = False
        self.connections = 0

    async def install(self, context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/__cb/sync$"), self._route)

    async def _route(self, route: WebSocketRoute) -> None:
        if self.blocked:
            await route.close(code=4001, reason="cut")
            return
        self.connections += 1
        route.connect_to_server()
        self.routes.append(route)

    async def drop(self) -> None:
        self.blocked = True
        for route in self.routes:
            await route.close(code=4001, reason="cut")
        self.routes.clear()

    def restore(self) -> None:
        self.blocked = False


async def bodies_equal(a: BrowserParty, b: BrowserParty, within: float = WAIT_MS / 1000) -> tuple[str, str]:
    """Wait until both normalised bodies are equal; return the last pair read either way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left, right = await a.body(), await b.body()
        if left == right or loop.time() > deadline:
            return left, right
        await asyncio.sleep(0.1)


async def point_and_see(pointer: BrowserParty, watcher: BrowserParty, selector: str = "#title") -> None:
    """``pointer`` moves its mouse over ``selector``; return once ``watcher`` shows its labelled cursor."""
    box = await pointer.page.locator(selector).bounding_box()
    assert box is not None
    await pointer.page.mouse.move(box["x"] + 10, box["y"] + 5)
    await pointer.page.mouse.move(box["x"] + 20, box["y"] + 8)
    await watcher.wait_js("(id) => !!document.querySelector('cobrowse-ui').shadowRoot"
                          ".querySelector(`.cursor[data-id='${id}']`)", arg=pointer.id)
