"""Target sites for the co-browsing end-to-end checks (``test_cobrowse_e2e.py``): ``start_sites()``.

Real aiohttp apps on loopback; every request is recorded in one ``HitLog`` before its handler
runs. Each site makes requests a second browser would make *differently* (cache busters, random
ids, timestamps), and each response carries a server-side serial number, so a follower that
shows the leader's serial got the leader's response, not a fetch of its own.

- ``spa.test``: ``/app`` and ``/app/{route}`` one single-page app that routes with pushState and
  loads ``/api/view?route=..&_=<Date.now()>&rid=<crypto.randomUUID()>`` with an
  ``X-Request-Id: <Math.random()>`` header, rendering the JSON it gets.
- ``rand.test``: ``/`` a page that loads images and JSON from URLs built from ``Math.random()``
  and ``Date.now()`` (query values and a path segment) and renders what came back (image sizes
  chosen by the server, JSON serials); ``/next`` a second such page.
- ``chat.test``: ``/`` a chat page on a WebSocket ``/ws``; the server greets each connection with
  its connection number and broadcasts every message it receives; ``Sites.said`` keeps what it
  received, in order.
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import static_html
from world.targets import AppFactory, World, start_world

SPA = "spa.test"
RAND = "rand.test"
CHAT = "chat.test"
NO_STORE = {"Cache-Control": "no-store"}

_SPA_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>SPA</title></head>
<body><h1 id="title">Routed app</h1>
<nav><a class="route" id="r-home" href="/app">home</a> <a class="route" id="r-one" href="/app/one">one</a>
<a class="route" id="r-two" href="/app/two">two</a></nav>
<main id="view">loading</main>
<script>
async function load() {
  const path = location.pathname;
  const url = '/api/view?route=' + encodeURIComponent(path) + '&_=' + Date.now() + '&rid=' + crypto.randomUUID();
  const r = await fetch(url, {headers: {'X-Request-Id': String(Math.random())}});
  const data = await r.json();
  if (location.pathname !== path) return;
  const view = document.getElementById('view');
  view.replaceChildren();
  const h = document.createElement('h2');
  h.id = 'shown';
  h.textContent = data.route + ' #' + data.serial;
  view.append(h);
  const ul = document.createElement('ul');
  for (const item of data.items) { const li = document.createElement('li'); li.textContent = item; ul.append(li); }
  view.append(ul);
}
document.addEventListener('click', (e) => {
  const a = e.target.closest('a.route');
  if (!a) return;
  e.preventDefault();
  history.pushState({}, '', a.getAttribute('href'));
  load();
});
window.addEventListener('popstate', load);
load();
</script></body></html>
"""

_RAND_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Random</title></head>
<body><h1 id="title">{title}</h1>
<a id="next" href="/next">next page</a>
<ol id="out"></ol>
<p id="done"></p>
<script>
function show(text) {{
  const li = document.createElement('li');
  li.textContent = text;
  document.getElementById('out').append(li);
}}
function image(src) {{
  return new Promise((resolve) => {{
    const img = new Image();
    img.onload = () => resolve(img.naturalWidth + 'x' + img.naturalHeight);
    img.onerror = () => resolve('failed');
    img.src = src;
  }});
}}
async function json(url) {{
  const r = await fetch(url);
  return r.ok ? (await r.json()).serial : 'status ' + r.status;
}}
(async () => {{
  // One after another, so both browsers show their results in the same order.
  show('image ' + await image('/img/dot.png?r=' + Math.random()));
  show('image ' + await image('/img/dot.png?t=' + Date.now() + '&r=' + Math.random()));
  show('stamp ' + await json('/api/at/' + Date.now()));
  show('seed ' + await json('/api/seed?seed=' + Math.random() + '&page={title}'));
  document.getElementById('done').textContent = 'done';
}})();
</script></body></html>
"""

_CHAT_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Chat</title></head>
<body><h1 id="title">Chat</h1>
<ul id="log"></ul>
<p id="state">connecting</p>
<input id="msg" type="text"> <button id="send" type="button">send</button>
<script>
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
ws.onopen = () => { document.getElementById('state').textContent = 'open'; };
ws.onmessage = (e) => {
  const li = document.createElement('li');
  li.textContent = e.data;
  document.getElementById('log').append(li);
};
document.getElementById('send').addEventListener('click', () => {
  const box = document.getElementById('msg');
  ws.send(box.value);
  box.value = '';
});
</script></body></html>
"""


def png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of the given size (the image's size is what a page can observe)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(slots=True)
class Sites:
    """The running sites, their hit log, and what the chat server received."""

    world: World
    said: list[str] = field(default_factory=list)

    @property
    def log(self) -> HitLog:
        return self.world.log

    def reset(self) -> None:
        """Forget hits and chat messages (serials keep counting, so runs never look alike)."""
        self.world.log.clear()
        self.said.clear()

    async def close(self) -> None:
        await self.world.close()


def spa_app(log: HitLog, host: str = SPA) -> web.Application:
    serial = itertools.count(1)

    async def view(request: web.Request) -> web.Response:
        route = request.query.get("route", "")
        items = [f"{route} item {i}" for i in range(1, 4)]
        return web.json_response({"route": route, "serial": next(serial), "items": items},
                                 headers=NO_STORE)

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/app", static_html(_SPA_PAGE, NO_STORE))
    app.router.add_get("/app/{route}", static_html(_SPA_PAGE, NO_STORE))
    app.router.add_get("/api/view", view)
    return app


def rand_app(log: HitLog, host: str = RAND) -> web.Application:
    serial = itertools.count(1)

    async def dot(request: web.Request) -> web.Response:
        # Each answer has a new size: a follower showing the leader's size got the leader's image.
        n = next(serial)
        return web.Response(body=png(1 + n % 40, 1 + n // 40), content_type="image/png",
                            headers=NO_STORE)

    async def serial_json(request: web.Request) -> web.Response:
        return web.json_response({"serial": next(serial)}, headers=NO_STORE)

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", static_html(_RAND_PAGE.format(title="first"), NO_STORE))
    app.router.add_get("/next", static_html(_RAND_PAGE.format(title="second"), NO_STORE))
    app.router.add_get("/img/dot.png", dot)
    app.router.add_get("/api/at/{stamp}", serial_json)
    app.router.add_get("/api/seed", serial_json)
    return app


def chat_app(said: list[str]) -> AppFactory:
    """The chat site; every message it receives is appended to ``said``."""
    return lambda log, host: _chat_app(log, host, said)


def _chat_app(log: HitLog, host: str, said: list[str]) -> web.Application:
    sockets: set[web.WebSocketResponse] = set()
    connections = itertools.count(1)

    async def chat(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(ws)
        try:
            await ws.send_str(f"server: you are connection #{next(connections)}")
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                said.append(message.data)
                line = json.dumps({"n": len(said), "text": message.data})
                for peer in list(sockets):
                    await peer.send_str(line)
        finally:
            sockets.discard(ws)
        return ws

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", static_html(_CHAT_PAGE, NO_STORE))
    app.router.add_get("/ws", chat)
    return app


def e2e_apps(said: list[str]) -> dict[str, AppFactory]:
    return {SPA: spa_app, RAND: rand_app, CHAT: chat_app(said)}


async def start_sites() -> Sites:
    said: list[str] = []
    return Sites(await start_world(e2e_apps(said)), said)
