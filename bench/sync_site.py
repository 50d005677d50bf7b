"""The target site of the co-browsing benchmark (``bench_sync.py``): a few pages, counted.

One aiohttp app on loopback, reached through cobrowse as ``http://shop.bench/``. Every request
it answers is counted by (method, path) in ``Hits`` before the handler runs, so the benchmark
can prove that followers add no upstream request.

Pages:
- ``/``       home: links, three images, a stylesheet;
- ``/play``   the latency page: a text field, a checkbox, a select, a button whose click
              handler appends a list item (a DOM change made by the page's own script), and
              enough text to scroll;
- ``/feed``   on load, two ``fetch`` calls with cache-busting queries (``Date.now()``, and a
              request id from ``Math.random()``, see ``RIDS``) whose JSON is rendered, and two images;
- ``/order``  a form; ``POST /order`` answers 303 to ``/thanks?order=<n>``;
- ``/api/items``, ``/api/price`` JSON; ``/img/<n>.png`` images (distinct bytes each); ``/site.css``.
"""

from __future__ import annotations

import html
import random
import struct
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Hits:
    """Requests the target answered: (method, path) -> count, and the total."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def clear(self) -> None:
        self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        return {f"{m} {p}": n for (m, p), n in sorted(self.counts.items()) if p != "/favicon.ico"}


def _png(seed: int, side: int = 64) -> bytes:
    """A valid RGB PNG of noise: incompressible, so its size is what a real photo costs."""
    rng = random.Random(seed)
    raw = b"".join(b"\0" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


_IMAGES = {n: _png(n) for n in range(1, 6)}

_CSS = "body { font: 16px/1.45 sans-serif; margin: 12px; } img { width: 96px; height: 96px; }\n" + "".join(
    f".c{i} {{ color: #{i * 37 % 256:02x}{i * 91 % 256:02x}{i * 53 % 256:02x}; padding: {i % 7}px; }}\n"
    for i in range(200)
)

_NAV = ('<nav><a id="to-home" href="/">home</a> <a id="to-play" href="/play">play</a> '
        '<a id="to-feed" href="/feed">feed</a> <a id="to-order" href="/order">order</a></nav>')

_TEXT = "\n".join(
    f'<p id="p{i}" class="c{i}">Paragraph {i}. ' + "Words that fill the page so it scrolls. " * (6 + i % 4) + "</p>"
    for i in range(1, 121)
)


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="stylesheet" href="/site.css"></head><body><h1 id="title">{title}</h1>{_NAV}'
            f"{body}</body></html>")


HOME = _page("Shop", '<p>Welcome.</p><img src="/img/1.png" alt=""><img src="/img/2.png" alt="">'
                     '<img src="/img/3.png" alt="">' + _TEXT[:4000])

# The controls stay in a fixed header, so clicking them never scrolls the page, and items are
# added inside their own box, so the page's scroll position only moves when the leader scrolls.
PLAY = _page("Play", """
<style>#bar { position: fixed; top: 0; left: 0; right: 0; background: #fff; border-bottom: 1px solid #ccc; }
#list { height: 48px; overflow: auto; margin: 4px 0; } body { padding-top: 110px; }</style>
<div id="bar"><form id="f" onsubmit="return false">
  <input id="t" name="t" type="text" autocomplete="off" size="80">
  <label><input id="c" name="c" type="checkbox"> agree</label>
  <select id="s" name="s"><option value="a">a</option><option value="b">b</option>
    <option value="c">c</option><option value="d">d</option></select>
  <button id="add" type="button">add</button>
</form>
<ul id="list"></ul></div>
<script>
let added = 0;
document.getElementById('add').addEventListener('click', () => {
  added += 1;
  const li = document.createElement('li');
  li.textContent = 'item ' + added;
  document.getElementById('list').appendChild(li);
});
</script>""" + _TEXT)

# Request ids the way pages make them: ``Math.random()`` as is ("0.8123..."), or in base 36
# ("k2j9x0q1ab", the ``.toString(36).slice(2)`` idiom).
RIDS = {"decimal": "String(Math.random())", "base36": "Math.random().toString(36).slice(2)"}


def feed_page(rid: str) -> str:
    return _page("Feed", """
<ul id="items"></ul><p id="price"></p><img src="/img/4.png" alt=""><img src="/img/5.png" alt="">
<script>
(async () => {
  const items = await (await fetch('/api/items?_=' + Date.now())).json();
  document.getElementById('items').innerHTML = items.map((i) => '<li>' + i.name + '</li>').join('');
  const price = await (await fetch('/api/price?rid=' + RID)).json();
  document.getElementById('price').textContent = 'total ' + price.total;
  document.body.dataset.loaded = 'yes';
})();
</script>""".replace("RID", RIDS[rid]))


ORDER = _page("Order", """
<form id="order" method="post" action="/order">
  <input id="who" name="who" type="text"> <input id="qty" name="qty" type="number" value="1">
  <select id="ship" name="ship"><option>post</option><option>courier</option></select>
  <button id="buy" type="submit">buy</button>
</form>""")


def _html(text: str) -> Route:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    return handler


async def _items(request: web.Request) -> web.Response:
    return web.json_response([{"name": f"thing {i}", "price": i * 3} for i in range(1, 21)])


async def _price(request: web.Request) -> web.Response:
    return web.json_response({"total": 630})


async def _image(request: web.Request) -> web.Response:
    body = _IMAGES.get(int(request.match_info["n"]))
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(body=body, content_type="image/png")


async def _css(request: web.Request) -> web.Response:
    return web.Response(text=_CSS, content_type="text/css")


def build_site(hits: Hits, rid: str = "decimal") -> web.Application:
    orders = iter(range(1, 1 << 30))

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        hits.counts[(request.method, request.path)] += 1
        return await handler(request)

    async def order(request: web.Request) -> web.Response:
        form = await request.post()
        n = next(orders)
        raise web.HTTPSeeOther(f"/thanks?order={n}&who={form.get('who', '')}")

    async def thanks(request: web.Request) -> web.Response:
        who, n = html.escape(request.query.get("who", "")), html.escape(request.query.get("order", ""))
        return web.Response(text=_page("Thanks", f'<p id="done">Order {n} for {who}</p>'),
                            content_type="text/html")

    app = web.Application(middlewares=[count])
    app.router.add_get("/", _html(HOME))
    app.router.add_get("/play", _html(PLAY))
    app.router.add_get("/feed", _html(feed_page(rid)))
    app.router.add_get("/order", _html(ORDER))
    app.router.add_post("/order", order)
    app.router.add_get("/thanks", thanks)
    app.router.add_get("/api/items", _items)
    app.router.add_get("/api/price", _price)
    app.router.add_get("/img/{n}.png", _image)
    app.router.add_get("/site.css", _css)
    return app
