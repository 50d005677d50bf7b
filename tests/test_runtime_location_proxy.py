"""Issue 7, item 1: through cobrowse a page reads its own real ``location``, as directly.

A small site (``loc.test``) serves a page with an inline script and an external script that read
``location`` every way pages do (aliases, destructuring, ``top``, string conversion) and write it
(``location.href = '/x'``, ``location.assign(real absolute URL)``). The page is loaded once
directly and once through cobrowse (the proxy rewrites both scripts, ``rewriter/js.py``, and its
runtime answers the rewritten calls, ``static/runtime/45-jsglue.js``); what the page reads must
be the same, the writes must navigate within the proxy space, and no request may leave it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page
from runtime_compare import Compared, compared
from world import HitLog
from world.harness import DOMAIN
from world.hits import hit_middleware

from proxy.keys import SCRIPTS as SCRIPT_CACHE

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = "loc.test"
ORIGIN = f"http://{HOST}"
PAGE = f"{ORIGIN}/page?q=1#frag"

# Both scripts store what they read in window.__views[name].
READS = """
window.__views = window.__views || {};
(function () {
  const { hostname, port: p, protocol: proto } = location;
  const { location: loc } = window;
  window.__views[NAME] = {
    hostname: location.hostname, origin: location.origin, href: location.href, port: location.port,
    protocol: location.protocol, search: location.search, hash: location.hash,
    docHost: document.location.host, winOrigin: window.location.origin, selfPath: self.location.pathname,
    top: top.location.href, string: String(location), concat: '' + window.location,
    destructured: [hostname, p, proto, loc.href],
    plain: ({ location: { pathname: '/plain' } }).location.pathname,
  };
})();
"""
EXTERNAL = READS.replace("NAME", "'external'") + """
window.__go = function (how) {
  if (how === 'href') location.href = '/x';
  else if (how === 'assign') location.assign('http://loc.test/y?z=1');
  else window.location = 'http://loc.test/w';
};
"""
# Large enough to be rewritten off the event loop (proxy/exchange.py).
BIG = READS.replace("NAME", "'big'") + "/*" + "x" * 100_000 + "*/\n"
# A worker gets no runtime but loads importScripts() as Sec-Fetch-Dest: script, so its script
# is rewritten: the prologue keeps it working (it reads the worker's own location).
WORKER = "importScripts('/imp.js');"
IMPORTED = "postMessage([location.pathname, typeof self.location.href]);"
HTML = (
    "<!doctype html><html><head><title>loc</title><script>" + READS.replace("NAME", "'inline'") + "</script>"
    '<script src="/ext.js"></script><script src="/big.js"></script>'
    "<script>new Worker('/worker.js').onmessage = (e) => { window.__views.worker = e.data; };</script>"
    "</head><body><p>loc</p></body></html>"
)
# Past the proxy's bound for buffering a script (4 MiB on the wire): streamed as it came.
HUGE = IMPORTED + "/*" + "x" * (4 * 1024 * 1024) + "*/"
SCRIPTS = {"/ext.js": EXTERNAL, "/big.js": BIG, "/worker.js": WORKER, "/imp.js": IMPORTED, "/huge.js": HUGE}


def make_app(log: HitLog, name: str) -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=HTML, content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=SCRIPTS[request.path], content_type="application/javascript")

    app = web.Application(middlewares=[hit_middleware(log, name)])
    for path in SCRIPTS:
        app.router.add_get(path, script)
    for path in ("/page", "/x", "/y", "/w"):
        app.router.add_get(path, page)
    return app


async def views(page: Page) -> dict[str, object]:
    await page.wait_for_function("() => window.__views && ['inline', 'external', 'big', 'worker']"
                                 ".every((k) => window.__views[k])")
    return json.loads(await page.evaluate("() => JSON.stringify(window.__views)"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded() -> AsyncIterator[Compared]:
    async with compared({HOST: make_app}, PAGE, views) as c:
        yield c


async def proxied_page(loaded: Compared) -> Page:
    return await loaded.proxied_page()


async def test_inline_and_external_scripts_read_the_same_location_as_directly(loaded: Compared) -> None:
    assert loaded.direct["inline"]["hostname"] == HOST  # type: ignore[index]
    assert loaded.direct["worker"] == ["/worker.js", "string"]
    page = await proxied_page(loaded)
    assert await views(page) == loaded.direct
    assert (await page.evaluate("() => location.hostname")).endswith("." + DOMAIN)  # unrewritten: the proxy
    await page.context.close()
    assert loaded.recorder.outside(DOMAIN) == []


@pytest.mark.parametrize(("how", "real"), [("href", f"{ORIGIN}/x"), ("assign", f"{ORIGIN}/y?z=1"),
                                          ("set", f"{ORIGIN}/w")])
async def test_rewritten_location_writes_navigate_within_the_proxy_space(loaded: Compared, how: str, real: str) -> None:
    page = await proxied_page(loaded)
    path = real.removeprefix(ORIGIN).split("?")[0]
    await views(page)
    await page.evaluate("(how) => window.__go(how)", how)
    await page.wait_for_function("(path) => window.__views && window.__views.inline "
                                 "&& window.__views.inline.href.includes(path)", arg=path, timeout=20_000)
    seen = await views(page)
    assert seen["inline"]["href"] == real  # type: ignore[index]
    assert seen["external"]["origin"] == ORIGIN  # type: ignore[index]
    assert path in loaded.world.log.paths(HOST)
    await page.context.close()
    assert loaded.recorder.outside(DOMAIN) == []


async def test_scripts_are_rewritten_for_pages_and_workers_only_and_each_once(loaded: Compared) -> None:
    session = await loaded.server.create_session(PAGE)
    await loaded.server.redeem(session["leader_url"])
    url = loaded.server.proxy_url(session["id"], HOST, "/imp.js")
    as_script = await loaded.server.request("GET", url, headers={"Sec-Fetch-Dest": "script"})
    assert as_script.status == 200 and b"__cb$loc(location).pathname" in as_script.body
    assert as_script.header("Content-Type") == "text/javascript; charset=utf-8"
    as_worker = await loaded.server.request("GET", url, headers={"Sec-Fetch-Dest": "worker"})
    assert as_worker.body.startswith(b";try { (function cbWorker(") and b"__cb$loc(location).pathname" in as_worker.body
    as_worklet = await loaded.server.request("GET", url, headers={"Sec-Fetch-Dest": "audioworklet"})
    assert as_worklet.body == IMPORTED.encode()
    cache = loaded.server.runner.app[SCRIPT_CACHE]
    misses = cache.misses
    again = await loaded.server.request("GET", url, headers={"Sec-Fetch-Dest": "script"})
    assert again.body == as_script.body and cache.misses == misses and cache.hits > 0
    huge = await loaded.server.request("GET", loaded.server.proxy_url(session["id"], HOST, "/huge.js"),
                                       headers={"Sec-Fetch-Dest": "script"}, max_body=8 << 20)
    assert huge.status == 200 and huge.body == HUGE.encode()
