"""Issue 7, item 1: what a page reads back about URLs shows its own site, as directly.

A page of ``rb.test`` frames a page of ``other.test`` and reads back, each into
``window.__v[name]``: the messages it receives (``MessageEvent.origin``; the frame posts with a
real target origin, an options object, ``"*"``, and once to a wrong origin, which must not
arrive, fenced by the later ones), the frame's ``location.ancestorOrigins``, ``window.origin``,
``isSecureContext`` (false for an http site; every ``*.localhost`` proxy page is secure),
markup it serialises (``innerHTML``/``outerHTML`` of elements and a shadow root,
``XMLSerializer``, an attribute after ``cloneNode``), a MutationObserver record's ``oldValue``, ``Response.url`` and
``XMLHttpRequest.responseURL``, Performance entries' names, response headers that carry URLs
(``Link``, ``Content-Location``, ``Refresh``, ``Timing-Allow-Origin``, ``Access-Control-Allow-Origin``)
read by ``Headers.get``, iteration, ``forEach`` and XHR's getters, ``document.URL``/``documentURI``/
``baseURI``/``domain``, ``with (location)``, and a same-origin frame's ``parent``/``top``/``frames[i]``
locations and referrer. The page is loaded directly
and through cobrowse: the views must be identical. The Cache API needs a secure context, which
the http site does not have directly, so its keys are checked through the proxy alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page
from runtime_compare import Compared, compared, window_views
from world import HitLog
from world.harness import DOMAIN
from world.hits import hit_middleware
from world.pages import PNG_1X1

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = "rb.test"
OTHER = "other.test"
ORIGIN = f"http://{HOST}"
PAGE = f"{ORIGIN}/page"

PARENT_SCRIPT = """
window.__v = {};
const got = [];
addEventListener('message', (e) => {
  if (!e.data || !e.data.k) return;
  got.push(e.data.k + ' ' + e.origin);
  if (e.data.k === 'anc') window.__v['ancestor-origins'] = e.data.v;
  if (got.some((m) => m.startsWith('last ')) && got.some((m) => m.startsWith('self '))) {
    window.__v['messages'] = got.slice().sort();
  }
});
window.postMessage({ k: 'self' }, 'http://rb.test');
window.__v['window-origin'] = window.origin;
window.__v['secure-context'] = isSecureContext;
const d = document.createElement('div');
d.innerHTML = '<a href="http://rb.test/x?a=1&amp;b=2">x</a><img src="http://other.test/i.png" '
  + 'srcset="http://other.test/i2.png 2x"><style>p { background: url(http://other.test/bg.png) }</style>';
window.__v['inner-html'] = d.innerHTML;
window.__v['outer-html'] = d.firstChild.outerHTML;
window.__v['clone-attribute'] = d.firstChild.cloneNode(true).getAttribute('href');
window.__v['xml-serializer'] = new XMLSerializer().serializeToString(d.firstChild);
const host = document.createElement('div');
document.body.appendChild(host);
const shadow = host.attachShadow({ mode: 'open' });
shadow.innerHTML = '<a href="http://other.test/s">s</a>';
window.__v['shadow-root'] = [shadow.innerHTML, shadow.querySelector('a').href,
  shadow.querySelector('a').getAttribute('href')];
const a = document.createElement('a');
a.setAttribute('href', 'http://rb.test/1');
document.body.appendChild(a);
new MutationObserver((records) => {
  window.__v['mutation-old-value'] = records.map((r) => [r.attributeName, r.oldValue, r.target.getAttribute('href')]);
}).observe(a, { attributes: true, attributeOldValue: true });
a.setAttribute('href', 'http://rb.test/2');
fetch('http://rb.test/data.txt').then((r) => { window.__v['response-url'] = r.url; });
const x = new XMLHttpRequest();
x.open('GET', 'http://rb.test/data.txt');
x.onload = () => { window.__v['xhr-response-url'] = x.responseURL; };
x.send();
const HN = ['link', 'content-location', 'refresh', 'timing-allow-origin', 'access-control-allow-origin'];
fetch('/headers').then((r) => {
  window.__v['headers-get'] = HN.map((n) => r.headers.get(n));
  window.__v['headers-iterated'] = [...r.headers].filter(([n]) => HN.includes(n));
  window.__v['headers-entries'] = [...r.headers.entries()].filter(([n]) => HN.includes(n));
  const each = [];
  r.headers.forEach(function (v, n) { if (HN.includes(n)) each.push([n, v, this.k]); }, { k: 'this' });
  window.__v['headers-foreach'] = each;
});
const hx = new XMLHttpRequest();
hx.open('GET', '/headers');
hx.onload = () => {
  window.__v['xhr-headers'] = [HN.map((n) => hx.getResponseHeader(n)),
    hx.getAllResponseHeaders().split('\\r\\n').filter((l) => HN.some((n) => l.startsWith(n + ':'))).sort()];
};
hx.send();
window.__v['document'] = [document.URL, document.documentURI, document.baseURI, document.domain,
  document.location.href, document.body.baseURI];
with (location) { window.__v['with-location'] = [pathname, host, href, origin]; }
addEventListener('message', (e) => {
  if (e.data && e.data.same) window.__v['same-frame'] = e.data.same;
});
addEventListener('load', () => {
  window.__v['frames-location'] = [frames[1].location.href, frames[1].document.URL, frames.length];
  const nav = performance.getEntriesByType('navigation')[0];
  window.__v['performance'] = [
    performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('/img.png')),
    performance.getEntriesByName('http://rb.test/img.png').length, nav.name, nav.toJSON().name];
});
"""
SAME_SCRIPT = """
parent.postMessage({ same: [parent.location.href, top.location.pathname, parent.document.URL,
  document.referrer, location.href, window.origin] }, '*');
"""
CHILD_SCRIPT = """
parent.postMessage({ k: 'wrong' }, 'http://nope.test');
parent.postMessage({ k: 'anc', v: Array.from(location.ancestorOrigins) }, 'http://rb.test');
parent.postMessage({ k: 'options' }, { targetOrigin: 'http://rb.test' });
parent.postMessage({ k: 'last' }, '*');
"""
NAMES = ("messages", "ancestor-origins", "window-origin", "secure-context", "inner-html", "outer-html",
         "clone-attribute", "xml-serializer", "shadow-root", "mutation-old-value", "response-url", "xhr-response-url",
         "performance", "headers-get", "headers-iterated", "headers-entries", "headers-foreach", "xhr-headers",
         "document", "with-location", "same-frame", "frames-location")
# Response headers the proxy maps into its space (rewriter/header_tables.py); read back, they must be real.
URL_HEADERS = {
    "Link": f'<{ORIGIN}/style.css>; rel=preload; as=style, </rel.css>; rel=next, <http://{OTHER}/x>; rel="alternate"',
    "Content-Location": f"{ORIGIN}/canon",
    "Refresh": f"5; url={ORIGIN}/r",
    "Timing-Allow-Origin": f"{ORIGIN} http://{OTHER}",
    "Access-Control-Allow-Origin": ORIGIN,
}


def make_app(log: HitLog, name: str) -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=f'<!doctype html><html><head><title>rb</title></head><body><img src="/img.png">'
                                 f'<script>{PARENT_SCRIPT}</script><iframe src="http://{OTHER}/child"></iframe>'
                                 '<iframe src="/same"></iframe>'
                                 "</body></html>", content_type="text/html")

    async def child(_: web.Request) -> web.Response:
        body = f"<!doctype html><p>child</p><script>{CHILD_SCRIPT}</script>"
        return web.Response(text=body, content_type="text/html")

    async def same(_: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><p>same</p><script>{SAME_SCRIPT}</script>", content_type="text/html")

    async def headers(_: web.Request) -> web.Response:
        return web.Response(text="h", content_type="text/plain", headers=URL_HEADERS)

    async def image(_: web.Request) -> web.Response:
        return web.Response(body=PNG_1X1, content_type="image/png")

    async def data(_: web.Request) -> web.Response:
        return web.Response(text="data", content_type="text/plain")

    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/page", page)
    app.router.add_get("/child", child)
    app.router.add_get("/same", same)
    app.router.add_get("/headers", headers)
    app.router.add_get("/img.png", image)
    app.router.add_get("/data.txt", data)
    return app


async def views(page: Page) -> dict[str, object]:
    return await window_views(page, NAMES)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded() -> AsyncIterator[Compared]:
    async with compared({HOST: make_app, OTHER: make_app}, PAGE, views) as c:
        yield c


async def test_the_direct_page_sees_its_own_site(loaded: Compared) -> None:
    """The oracle: the checks ran and read real values (so a proxy value cannot compare equal)."""
    assert "missing" not in loaded.direct.values()
    assert loaded.direct["messages"] == ["anc http://other.test", "last http://other.test",
                                         "options http://other.test", "self http://rb.test"]
    assert loaded.direct["ancestor-origins"] == [ORIGIN]
    assert loaded.direct["secure-context"] is False
    assert loaded.direct["mutation-old-value"] == [["href", "http://rb.test/1", "http://rb.test/2"]]
    assert loaded.direct["performance"] == [[f"{ORIGIN}/img.png"], 1, PAGE, PAGE]
    assert loaded.direct["headers-get"] == [URL_HEADERS[n] for n in URL_HEADERS]
    assert loaded.direct["document"] == [PAGE, PAGE, PAGE, HOST, PAGE, PAGE]
    assert loaded.direct["with-location"] == ["/page", HOST, PAGE, ORIGIN]
    assert loaded.direct["same-frame"] == [PAGE, "/page", PAGE, PAGE, f"{ORIGIN}/same", ORIGIN]
    assert loaded.direct["frames-location"] == [f"{ORIGIN}/same", f"{ORIGIN}/same", 2]


async def test_every_read_back_shows_the_real_site_as_directly(loaded: Compared) -> None:
    page = await loaded.proxied_page()
    proxied = await views(page)
    await page.context.close()
    assert {k: v for k, v in proxied.items() if v != loaded.direct[k]} == {}
    assert loaded.recorder.outside(DOMAIN) == []


async def test_cache_api_keys_read_back_real_urls_and_real_url_lookups_hit(loaded: Compared) -> None:
    page = await loaded.proxied_page()
    await views(page)
    got = await page.evaluate("""async () => {
        const cache = await caches.open('t');
        await cache.add('http://rb.test/data.txt');
        await cache.put('http://rb.test/put.txt', new Response('p'));
        const keys = (await cache.keys()).map((r) => r.url).sort();
        const hit = await cache.match('http://rb.test/data.txt');
        const anywhere = await caches.match('http://rb.test/put.txt');
        return [keys, hit && hit.url, hit && await hit.text(), anywhere && await anywhere.text(),
                await cache.delete('http://rb.test/put.txt')];
    }""")
    await page.context.close()
    assert got == [[f"{ORIGIN}/data.txt", f"{ORIGIN}/put.txt"], f"{ORIGIN}/data.txt", "data", "p", True]
    assert loaded.recorder.outside(DOMAIN) == []
