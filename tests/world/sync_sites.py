"""The co-browsing world: two small sites a leader and followers use in real Chromium.

- ``sync-a.test``: ``/`` a page with every kind of field, a nested scroll box whose items wrap
  differently at different window widths, long text for window scrolling, links to ``/two``, to
  ``/spa`` and to site B; ``/two`` a second page; ``/spa`` a page that routes with pushState;
  ``POST /submit`` echoes the posted form; ``/storage`` writes localStorage and opens a window on buttons.
- ``sync-b.test``: ``/`` a page on a second origin, linking back.

Every request is recorded in the world's ``HitLog`` (``start_world(SYNC_APPS)``).
"""

from __future__ import annotations

import html

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import static_html
from world.targets import AppFactory, World, start_world

SYNC_A = "sync-a.test"
SYNC_B = "sync-b.test"

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


async def _submit(request: web.Request) -> web.Response:
    form = await request.post()
    rows = "".join(f"<li>{html.escape(k)}={html.escape(str(v))}</li>" for k, v in form.items())
    return web.Response(text=f"<!doctype html><body><h1 id='title'>Posted</h1><ul id='posted'>{rows}</ul></body>",
                        content_type="text/html")


def site_a(log: HitLog, host: str = SYNC_A) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", static_html(INDEX))
    app.router.add_get("/two", static_html(TWO))
    app.router.add_get("/spa", static_html(SPA))
    app.router.add_get("/spa/{route}", static_html(SPA))
    app.router.add_get("/storage", static_html(STORAGE))
    app.router.add_post("/submit", _submit)
    return app


def site_b(log: HitLog, host: str = SYNC_B) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", static_html(B_INDEX))
    return app


SYNC_APPS: dict[str, AppFactory] = {SYNC_A: site_a, SYNC_B: site_b}


async def start_sync_world() -> World:
    """The two sync sites on loopback (``start_world(SYNC_APPS)``)."""
    return await start_world(SYNC_APPS)


def document_hits(log: HitLog) -> list[tuple[str, str, str]]:
    """(server, method, path) of every request, favicon aside, in order."""
    return [(h.server, h.method, h.path) for h in log if h.path != "/favicon.ico"]
