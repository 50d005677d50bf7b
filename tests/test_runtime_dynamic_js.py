"""Issue 7, item 1: code a page builds or hands over as strings reads its own real ``location``.

A small site (``dyn.test``) serves one page whose checks each read ``location`` through code
that is not a plain served script: event-handler attributes (served, and set at run time with
``setAttribute``), ``javascript:`` URLs (served, and set at run time), direct and indirect
``eval`` (a direct eval must still see the caller's locals), ``new Function`` / ``Function`` /
``fn.constructor``, string timers, ``document.write`` of a script, script elements whose text
is set before insertion (``text``, ``textContent``, ``innerHTML``, an appended text node, a
module), a contextual fragment's script. Each stores what it read in ``window.__v[name]``.

The page is loaded once directly and once through cobrowse (the proxy rewrites the served
handlers and URLs, ``rewriter/html.py``; the runtime sends code built at run time to
``POST /__cb/js``, ``static/runtime/45-jsglue.js`` and ``47-dynjs.js``). What the page reads
must be identical, and no request may leave the proxy space. Without the rewriting every view
through the proxy would name the proxy host, so each comparison can fail.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page
from runtime_compare import Compared, compared, window_views
from world import HitLog
from world.harness import DOMAIN
from world.hits import hit_middleware

from proxy.keys import SCRIPTS as SCRIPT_CACHE

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = "dyn.test"
ORIGIN = f"http://{HOST}"
PAGE = f"{ORIGIN}/page?q=1"

# name -> the JavaScript that fills window.__v[name] (run in order by the page's own script)
CHECKS: dict[str, str] = {
    "served-handler": "document.getElementById('served-handler').click();",
    "served-javascript-url": "document.getElementById('served-javascript-url').click();",
    "set-attribute-handler": """
        const b = document.createElement('button');
        b.setAttribute('onclick', "window.__v['set-attribute-handler'] = location.href; return false");
        document.body.appendChild(b); b.click();""",
    "property-javascript-url": """
        const a = document.createElement('a');
        a.href = "javascript:void(window.__v['property-javascript-url'] = location.hostname)";
        document.body.appendChild(a); a.click();""",
    "direct-eval-keeps-locals": """
        (function () { const secret = 'local';
          window.__v['direct-eval-keeps-locals'] = eval("secret + ' ' + location.host"); })();""",
    "indirect-eval": """
        window.__v['indirect-eval'] = [(0, eval)('location.host'), window.eval('document.location.origin'),
          globalThis.eval('typeof secret')];""",
    "nested-eval": """window.__v['nested-eval'] = eval("eval('location.href')");""",
    "new-function": """
        window.__v['new-function'] = [new Function('return location.origin')(),
          Function('a', 'b', 'return a + b + location.port')('x', 'y'),
          (function () {}).constructor('return self.location.hostname')(),
          new Function('return 1 + 1')(), Function.prototype.constructor === Function,
          (() => {}) instanceof Function];""",
    "string-timer": """setTimeout("window.__v['string-timer'] = location.href");""",
    "string-interval": """
        const id = setInterval("window.__v['string-interval'] = top.location.hostname; clearInterval(__iv)");
        window.__iv = id;""",
    "script-text": """
        const s = document.createElement('script');
        s.text = "window.__v['script-text'] = location.host";
        document.head.appendChild(s);""",
    "script-textcontent": """
        const s = document.createElement('script');
        s.textContent = "window.__v['script-textcontent'] = window.location.host";
        document.body.append(s);""",
    "script-innerhtml-in-div": """
        const d = document.createElement('div'); const s = document.createElement('script');
        s.innerHTML = "window.__v['script-innerhtml-in-div'] = document.location.href";
        d.appendChild(s); document.body.appendChild(d);""",
    "script-text-node": """
        const s = document.createElement('script');
        s.appendChild(document.createTextNode("window.__v['script-text-node'] = location.origin"));
        document.head.appendChild(s);""",
    "script-module": """
        const s = document.createElement('script'); s.type = 'module';
        s.textContent = "window.__v['script-module'] = location.href";
        document.head.appendChild(s);""",
    "innerhtml-handler": """
        const d = document.createElement('div');
        d.innerHTML = `<button onclick="window.__v['innerhtml-handler'] = location.href">b</button>`;
        document.body.appendChild(d); d.firstChild.click();""",
    "insert-adjacent-javascript-url": """
        const code = "void(window.__v['insert-adjacent-javascript-url'] = location.host)";
        document.body.insertAdjacentHTML('beforeend', `<a id="adjacent" href="javascript:${code}">a</a>`);
        document.getElementById('adjacent').click();""",
    "attr-node-handler": """
        const b = document.createElement('button');
        const attr = document.createAttribute('onclick');
        attr.value = "window.__v['attr-node-handler'] = location.origin";
        b.setAttributeNode(attr); document.body.appendChild(b); b.click();""",
    "contextual-fragment": """
        const f = document.createRange().createContextualFragment(
          "<script>window.__v['contextual-fragment'] = location.hostname<\\/script>");
        document.body.appendChild(f);""",
}

# Written by the page's own inline script while the parser runs.
WRITTEN = "document.write(\"<script>window.__v['document-write'] = location.href<\\/script>\");"

HTML = (
    "<!doctype html><html><head><title>dyn</title>"
    "<script>window.__v = {}; " + WRITTEN + "</script></head><body>"
    "<button id=served-handler onclick=\"window.__v['served-handler'] = location.href; return false\">h</button>"
    "<a id=served-javascript-url href=\"javascript:void(window.__v['served-javascript-url'] = "
    "document.location.origin)\">j</a>"
    "<script>" + "".join(f"try {{ {code} }} catch (e) {{ window.__v[{json.dumps(name)}] = 'error ' + e; }}\n"
                         for name, code in CHECKS.items()) + "</script>"
    "</body></html>"
)
NAMES = ("document-write", *CHECKS)


def make_app(log: HitLog, name: str) -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=HTML, content_type="text/html")

    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/page", page)
    return app


async def views(page: Page) -> dict[str, object]:
    return await window_views(page, NAMES)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded() -> AsyncIterator[Compared]:
    async with compared({HOST: make_app}, PAGE, views) as c:
        yield c


async def proxied_views(loaded: Compared) -> dict[str, object]:
    page = await loaded.proxied_page()
    seen = await views(page)
    await page.context.close()
    return seen


async def test_the_direct_page_reads_its_own_site_in_every_check(loaded: Compared) -> None:
    """The oracle itself: every check ran and read dyn.test (a broken check would compare equal)."""
    assert loaded.direct["direct-eval-keeps-locals"] == f"local {HOST}"
    assert loaded.direct["new-function"] == [ORIGIN, "xy", HOST, 2, True, True]
    for name, value in loaded.direct.items():
        assert HOST in json.dumps(value), (name, value)


async def test_code_built_at_run_time_and_handlers_read_the_same_location_as_directly(loaded: Compared) -> None:
    cache = loaded.server.runner.app[SCRIPT_CACHE]
    before = cache.misses + cache.hits
    proxied = await proxied_views(loaded)
    assert {k: v for k, v in proxied.items() if v != loaded.direct[k]} == {}
    assert cache.misses + cache.hits > before  # run-time code went through POST /__cb/js
    assert loaded.recorder.outside(DOMAIN) == []


async def test_js_endpoint_rewrites_each_kind_and_answers_204_when_nothing_changes(loaded: Compared) -> None:
    session = await loaded.server.create_session(PAGE)
    await loaded.server.redeem(session["leader_url"])
    url = loaded.server.proxy_url(session["id"], HOST, "/__cb/js")
    classic = await loaded.server.request("POST", url + "?kind=classic", data=b"var location = 1; location.x")
    assert classic.status == 200 and classic.body.endswith(b"var location = 1; __cb$loc(location).x")
    body = await loaded.server.request("POST", url + "?kind=body", data=b"var location = 1; return location.x")
    assert body.status == 204  # a local inside a function body
    plain = await loaded.server.request("POST", url + "?kind=module", data=b"export default 1")
    assert plain.status == 204
    bad = await loaded.server.request("POST", url + "?kind=other", data=b"location")
    assert bad.status == 400
    foreign = await loaded.server.request("POST", url, data=b"location.x", headers={"Sec-Fetch-Site": "cross-site"})
    assert foreign.status == 403
