"""Site B (``http://site-b.test``): a second, cross-site origin.

``/`` proves a link from A arrived and checks that a cross-site credentialed fetch to
``api.site-a.test`` carries none of A's SameSite cookies; its link back to A's
``/samesite-landing`` is a cross-site top-level navigation (Lax cookies go, Strict ones do not).
``/frame`` is embedded by A and tells its parent it loaded; ``/refreshed`` is where A's meta
refresh lands.
"""

from __future__ import annotations

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import html_response, page

# Every check id on ``/``, each of which must end as "ok".
SITE_B_CHECKS = ("b-ready", "cross-site-cookies")

_INDEX_BODY = """
<h1 id="title">Site B</h1>
<p>b-ready: <span class="check" id="b-ready">pending</span></p>
<p>cross-site-cookies: <span class="check" id="cross-site-cookies">pending</span></p>
<a id="to-a-landing" href="http://site-a.test/samesite-landing">back to site A</a>
<script>
report('b-ready', true);
check('cross-site-cookies', async () => {
  const r = await fetch('http://api.site-a.test/cookies', {credentials: 'include'});
  return expectNames((await r.json()).cookies, [], ['lax', 'strict', 'host_only', 'http_only']);
});
</script>
"""


async def index(request: web.Request) -> web.Response:
    return html_response(page("Site B", _INDEX_BODY))


async def frame(request: web.Request) -> web.Response:
    body = '<p id="frame-ok">ok</p><script>parent.postMessage("frame-ok", "*");</script>'
    return html_response(page("Frame", body))


async def refreshed(request: web.Request) -> web.Response:
    return html_response(page("Refreshed", '<p id="refreshed">ok</p>'))


def make_app(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/", index)
    app.router.add_get("/frame", frame)
    app.router.add_get("/refreshed", refreshed)
    return app
