"""Co-browsing in real Chromium: two small target sites, and a leader and followers that use them.

Sites (real aiohttp apps on loopback, every request recorded in one ``HitLog``):
- ``sync-a.test``: ``/`` a page with every kind of field, a nested scroll box whose items wrap
  differently at different window widths, long text for window scrolling, links to ``/two``, to
  ``/spa`` and to site B; ``/two`` a second page; ``/spa`` a page that routes with pushState;
  ``POST /submit`` echoes the posted form; ``/storage`` writes localStorage and opens a window on buttons.
- ``sync-b.test``: ``/`` a page on a second origin, linking back.

A ``Party`` is one participant's browser context and page. ``start_pair`` opens the leader link in
one context and joins as a follower in another (separate cookie stores, as two people would).
Everything the tests read goes through the page (``window.__cbSync``, ``__cbRuntime``, the DOM),
so no test depends on the runtime's internals.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute
from world.harness import Cobrowse
from world.hits import HitLog, hit_middleware
from world.server import World, serve_app

WAIT_MS = 15_000

_ITEMS = "\n".join(
    f'<li id="item-{i}">Item {i}: ' + "a line of words that wraps at narrow widths " * (1 + i % 3) + "</li>"
    for i in range(1, 81)
)
_PARAS = "\n".join(
    f'<p id="para-{i}">Paragraph {i}. ' + "Some text that reflows with the window width. " * (4 + i % 5) + "</p>"
    for i in range(1, 61)
)

INDEX = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sync A</title>
<style>
  body {{ font: 16px/1.4 sans-serif; margin: 8px; }}
  #box {{ width: 40vw; height: 240px; overflow: auto; border: 1px solid #888; }}
  #box li {{ margin: 0 0 6px; }}
</style></head>
<body>
<h1 id="title">Sync A</h1>
<nav><a id="to-two" href="/two">page two</a> <a id="to-spa" href="/spa">spa</a>
<a id="to-b" href="http://sync-b.test/">site B</a></nav>
<form id="form" method="post" action="/submit">
  <input id="name" name="name" type="text">
  <textarea id="notes" name="notes"></textarea>
  <select id="colour" name="colour"><option>red</option><option>green</option><option>blue</option></select>
  <input id="agree" name="agree" type="checkbox">
  <input id="size-s" name="size" type="radio" value="s"> <input id="size-l" name="size" type="radio" value="l">
  <input id="level" name="level" type="range" min="0" max="10" value="5">
  <input id="day" name="day" type="date">
  <input id="secret" name="secret" type="password">
  <div id="rich" contenteditable="true">edit me</div>
  <button id="send" type="submit">Send</button>
</form>
<p id="keys">keys:</p>
<ul id="box">{_ITEMS}</ul>
{_PARAS}
<script>
document.addEventListener('keydown', (e) => {{
  if (e.key === 'k' && e.target === document.body) document.getElementById('keys').textContent += ' k';
}});
</script>
</body></html>
"""

TWO = """<!doctype html><html><head><meta charset="utf-8"><title>Two</title></head>
<body><h1 id="title">Page two</h1><p>The second page of site A.</p>
<a id="to-b" href="http://sync-b.test/">site B</a></body></html>
"""

SPA = """<!doctype html><html><head><meta charset="utf-8"><title>SPA</title></head>
<body><h1 id="title">SPA</h1>
<nav><a class="route" id="r-one" href="/spa/one">one</a> <a class="route" id="r-two" href="/spa/two">two</a></nav>
<main id="view"></main>
<script>
function render() { document.getElementById('view').textContent = 'view of ' + location.pathname; }
document.addEventListener('click', (e) => {
  const a = e.target.closest('a.route');
  if (!a) return;
  e.preventDefault();
  history.pushState({}, '', a.getAttribute('href'));
  render();
});
window.addEventListener('popstate', render);
render();
</script></body></html>
"""

STORAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Storage</title></head>
<body><h1 id="title">Storage</h1>
<button id="write" type="button" onclick="localStorage.setItem('cart', 'apples')">write</button>
<p id="shown"></p>
<button id="open" type="button" onclick="window.open('/two')">open a window</button></body></html>
"""

B_INDEX = """<!doctype html><html><head><meta charset="utf-8"><title>Sync B</title></head>
<body><h1 id="title">Sync B</h1><p>A page on a second origin.</p>
<a id="to-a" href="http://sync-a.test/two">back to A</a></body></html>
"""


def _html(text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    return handler


async def _submit(request: web.Request) -> web.Response:
    form = await request.post()
    rows = "".join(f"<li>{html.escape(k)}={html.escape(str(v))}</li>" for k, v in form.items())
    return web.Response(text=f"<!doctype html><body><h1 id='title'>Posted</h1><ul id='posted'>{rows}</ul></body>",
                        content_type="text/html")


def _site_a(log: HitLog) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, "sync-a.test")])
    app.router.add_get("/", _html(INDEX))
    app.router.add_get("/two", _html(TWO))
    app.router.add_get("/spa", _html(SPA))
    app.router.add_get("/spa/{route}", _html(SPA))
    app.router.add_get("/storage", _html(STORAGE))
    app.router.add_post("/submit", _submit)
    return app


def _site_b(log: HitLog) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, "sync-b.test")])
    app.router.add_get("/", _html(B_INDEX))
    return app


async def start_sync_world() -> World:
    world = World(log=HitLog())
    try:
        for host, make in (("sync-a.test", _site_a), ("sync-b.test", _site_b)):
            runner, port = await serve_app(make(world.log))
            world.runners.append(runner)
            world.ports[host] = port
    except BaseException:
        await world.close()
        raise
    return world


def document_hits(log: HitLog) -> list[tuple[str, str, str]]:
    """(server, method, path) of every request, favicon aside, in order."""
    return [(h.server, h.method, h.path) for h in log if h.path != "/favicon.ico"]


# -- participants in Chromium --------------------------------------------------------------------

# The body as text + structure + field values, without scripts, styles or the toolbar: the
# "document equals" test compares this between participants.
NORMALISED_BODY = """() => {
  const out = [];
  const skip = new Set(['script', 'style', 'noscript', 'template', 'cobrowse-ui']);
  const walk = (node) => {
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) { const t = c.data.replace(/\\s+/g, ' ').trim(); if (t) out.push(t); }
      else if (c.nodeType === 1 && !skip.has(c.localName)) {
        const attrs = Array.from(c.attributes).map((a) => a.name + '=' + a.value).sort().join(' ');
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
class Party:
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


async def open_party(browser: Browser, url: str, width: int = 1200, height: int = 800,
                     before: Callable[[BrowserContext], Awaitable[None]] | None = None) -> Party:
    context = await browser.new_context(viewport={"width": width, "height": height})
    if before is not None:
        await before(context)
    page = await context.new_page()
    await page.goto(url)
    return Party(context, page)


async def join_follower(browser: Browser, created: dict[str, Any], name: str = "Vic", width: int = 1200,
                        height: int = 800, before: Callable[[BrowserContext], Awaitable[None]] | None = None) -> Party:
    party = await open_party(browser, created["follower_url"], width, height, before)
    await party.page.fill("#name", name)
    await party.page.click("button[type=submit]")
    await party.wait_connected()
    return party


async def start_pair(browser: Browser, server: Cobrowse, url: str, *, leader_size: tuple[int, int] = (1200, 800),
                     follower_size: tuple[int, int] = (1200, 800)) -> tuple[dict[str, Any], Party, Party]:
    created = await server.create_session(url)
    leader = await open_party(browser, created["leader_url"], *leader_size)
    await leader.wait_connected()
    follower = await join_follower(browser, created, "Vic", *follower_size)
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


async def bodies_equal(a: Party, b: Party, within: float = WAIT_MS / 1000) -> tuple[str, str]:
    """Wait until both normalised bodies are equal; return the last pair read either way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left, right = await a.body(), await b.body()
        if left == right or loop.time() > deadline:
            return left, right
        await asyncio.sleep(0.1)
