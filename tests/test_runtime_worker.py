"""Issue 7, item 1: inside a worker, what the script reads and where it connects (the worker runtime).

A page of ``wk.test`` starts a dedicated worker (classic), a module worker and a shared worker;
each posts back what it reads of its own URL (``self.location.href``, ``location.host``,
``location.origin``, ``self.origin``, ``String(location)``, ``isSecureContext``) and what it got
from ``fetch('http://wk.test/data')``, ``new XMLHttpRequest`` opened on a real URL and
(classic workers) ``importScripts('http://wk.test/lib.js')``; the page keeps each in
``window.__v``. The classic worker starts with ``"use strict"`` and checks that it still runs
strict. Loaded directly (host-resolver rules) and through cobrowse, the views must be identical,
and the proxied browser must ask for nothing outside the proxy space (it knows no address of
the site, so a URL the runtime missed fails, which the views would show too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from aiohttp import web
from runtime_compare import Compared, compared, window_views
from world import HitLog
from world.harness import DOMAIN
from world.hits import hit_middleware

from rewriter.body import rewriter_for, script_kind
from rewriter.html import PageContext
from rewriter.space import ProxySpace

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

HOST = "wk.test"
ORIGIN = f"http://{HOST}"
PAGE = f"{ORIGIN}/page"

PAGE_SCRIPT = """
window.__v = {};
const keep = (name) => (e) => { window.__v[name] = e.data; };
const fail = (name) => (e) => { window.__v[name] = 'error ' + (e.message || e.type); };
const classic = new Worker('/classic.js?w=1#frag');
classic.onmessage = keep('classic');
classic.onerror = fail('classic');
const module = new Worker('http://wk.test/module.js', { type: 'module' });
module.onmessage = keep('module');
module.onerror = fail('module');
const shared = new SharedWorker('/shared.js');
shared.port.onmessage = keep('shared');
shared.onerror = fail('shared');
shared.port.start();
"""

# What every worker reads; `done(extra)` posts it with the worker's own extras.
READ = """
const reads = () => ({
  href: self.location.href, host: location.host, origin: location.origin, selfOrigin: self.origin,
  string: String(location), parts: [location.protocol, location.hostname, location.port, location.pathname,
    location.search, location.hash], secure: isSecureContext,
});
const xhrText = () => typeof XMLHttpRequest === 'undefined' ? Promise.resolve('no xhr') : new Promise((resolve) => {
  const x = new XMLHttpRequest();
  x.open('GET', 'http://wk.test/data?via=xhr');
  x.onload = () => resolve(x.responseText);
  x.onerror = () => resolve('xhr error');
  x.send();
});
const gather = async (extra) => ({
  ...reads(), fetched: await fetch('http://wk.test/data').then((r) => r.text(), (e) => 'fetch error ' + e),
  xhr: await xhrText(), ...extra,
});
"""

CLASSIC = '"use strict";\n' + READ + """
const strict = (function () { return this === undefined; })();
let imported;
try { importScripts('http://wk.test/lib.js'); imported = self.libValue; } catch (e) { imported = 'error ' + e; }
gather({ strict, imported }).then((v) => postMessage(v));
"""
MODULE = "import { libValue } from './lib.mjs';\n" + READ + """
gather({ imported: libValue }).then((v) => postMessage(v));
"""
SHARED = READ + """
onconnect = (e) => { const port = e.ports[0]; gather({}).then((v) => port.postMessage(v)); };
"""
SERVICE = READ + """
onmessage = (e) => { gather({}).then((v) => e.source.postMessage(v)); };
"""
# A service worker needs a secure context, which http://wk.test is not directly (every proxy
# host is): it is checked through the proxy alone, against the values a direct one would read.
SERVICE_PAGE = """
window.__v = {};
navigator.serviceWorker.onmessage = (e) => { window.__v.service = e.data; };
navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready)
  .then((reg) => reg.active.postMessage('go'), (e) => { window.__v.service = 'error ' + e; });
"""

NAMES = ("classic", "module", "shared")


def make_app(log: HitLog, name: str) -> web.Application:
    def script(text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(text=text, content_type="text/javascript")
        return handler

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><title>wk</title><script>{PAGE_SCRIPT}</script>",
                            content_type="text/html")

    async def service_page(_: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><title>sw</title><script>{SERVICE_PAGE}</script>",
                            content_type="text/html")

    async def data(_: web.Request) -> web.Response:
        return web.Response(text="data", content_type="text/plain")

    scripts = {"/classic.js": CLASSIC, "/module.js": MODULE, "/shared.js": SHARED, "/sw.js": SERVICE,
               "/lib.js": "self.libValue = 'lib ' + location.host;", "/lib.mjs": "export const libValue = 'mjs';"}
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/page", page)
    app.router.add_get("/data", data)
    app.router.add_get("/sw-page", service_page)
    for path, text in scripts.items():
        app.router.add_get(path, script(text))
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded() -> AsyncIterator[Compared]:
    async with compared({HOST: make_app}, PAGE, lambda page: window_views(page, NAMES)) as workers:
        yield workers


def _expected(path: str) -> dict[str, object]:
    url = f"{ORIGIN}{path}"
    return {"href": url, "host": HOST, "origin": ORIGIN, "selfOrigin": ORIGIN, "string": url,
            "fetched": "data", "xhr": "data", "secure": False}


@IN_MODULE_LOOP
async def test_the_direct_workers_see_their_own_site(loaded: Compared) -> None:
    """The oracle: every worker ran and read real values (so a proxy value cannot compare equal)."""
    direct = loaded.direct
    assert direct["classic"] == {**_expected("/classic.js?w=1#frag"), "strict": True, "imported": f"lib {HOST}",
                                 "parts": ["http:", HOST, "", "/classic.js", "?w=1", "#frag"]}
    assert direct["module"] == {**_expected("/module.js"), "imported": "mjs",
                                "parts": ["http:", HOST, "", "/module.js", "", ""]}
    assert direct["shared"] == {**_expected("/shared.js"), "parts": ["http:", HOST, "", "/shared.js", "", ""]}


@IN_MODULE_LOOP
async def test_workers_read_and_reach_their_site_as_directly(loaded: Compared) -> None:
    page = await loaded.proxied_page()
    proxied = await window_views(page, NAMES)
    await page.context.close()
    assert {k: v for k, v in proxied.items() if v != loaded.direct[k]} == {}
    # The recorder sees what dedicated workers ask for (so "nothing outside" covers them too).
    assert [u for u in loaded.recorder.urls if u.endswith("/data?via=xhr") and f".{DOMAIN}:" in u] != []
    assert loaded.recorder.outside(DOMAIN) == []


@pytest.mark.parametrize(("script", "expected"), [
    ("x();", "PRELUDE;x();"),
    ('"use strict";\nx();', '"use strict";\nPRELUDE;x();'),
    ("// c\n'use strict'\nx();", "// c\n'use strict'\nPRELUDE;x();"),
    ("'use strict'; /* c */ x();", "'use strict'; /* c */ PRELUDE;x();"),
    ("// only a comment", "// only a comment\nPRELUDE;"),
    ("'a'.length;", "PRELUDE;'a'.length;"),
])
def test_the_prelude_goes_after_the_directive_prologue(script: str, expected: str) -> None:
    rewriter = rewriter_for("text/javascript", document=False, script="worker")
    assert rewriter is not None and rewriter.worker
    ctx = PageContext(url=f"{ORIGIN}/w.js", space=ProxySpace("abcdefghij", DOMAIN), inject="PRELUDE;")
    assert rewriter.rewrite(script.encode(), ctx, None).decode() == expected


def test_only_worker_scripts_get_the_worker_rewriter() -> None:
    assert script_kind("worker") == "worker" and script_kind("serviceworker") == "serviceworker"
    assert script_kind("script") == "script" and script_kind("audioworklet") is None and script_kind(None) is None
    page_script = rewriter_for("text/javascript", document=False, script="script")
    assert page_script is not None and not page_script.worker
    assert rewriter_for("text/javascript", document=False, script=None) is None



@IN_MODULE_LOOP
async def test_a_service_worker_reads_and_reaches_its_site(loaded: Compared) -> None:
    session = await loaded.server.create_session(f"{ORIGIN}/sw-page")
    context = await loaded.browser.new_context()
    loaded.recorder.attach(context)
    page = await context.new_page()
    await page.goto(session["leader_url"])
    seen = await window_views(page, ("service",))
    await context.close()
    assert seen["service"] == {**_expected("/sw.js"), "xhr": "no xhr",
                               "parts": ["http:", HOST, "", "/sw.js", "", ""]}
    assert loaded.recorder.outside(DOMAIN) == []
