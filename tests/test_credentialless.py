"""Requests browsers send without cookies: admitted for the participant whose view the host names.

A page on ``app.site.test`` loads, cross-origin and so without cookies: a default-mode ``fetch``
and a ``credentials: 'omit'`` one to ``api.site.test``, a web font and a ``crossorigin=anonymous``
script and a module script from ``cdn.test`` (an origin the session never navigated to). Directly
and through the proxy the page reports the same; through the proxy none of them carries the jar's
cookie to the target, while a ``credentials: 'include'`` fetch does (the jar has one). Co-browsed,
the follower's copies are served from the store: the target's hits equal those with no follower.
What must stay refused: a credential-less navigation, a request naming an unknown view, one whose
page is not of this session, and cobrowse's own endpoints (docs/participant-hosts.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Browser, Playwright
from world.browser import CHROMIUM, CHROMIUM_ARGS, wait_checks
from world.harness import Cobrowse, StartCobrowse, view_in
from world.hits import HitLog, hit_middleware
from world.party import join_follower, open_party
from world.targets import World, start_world

APP, API, CDN = "app.site.test", "api.site.test", "cdn.test"
CHECKS = ("fetch", "omit", "include", "font", "script", "module")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Credential-less</title>
<style>@font-face { font-family: Probe; src: url(http://cdn.test/probe.woff2) format('woff2'); }
p.f { font-family: Probe, sans-serif; }</style>
<script crossorigin="anonymous" src="http://cdn.test/lib.js"></script>
<script type="module" src="http://cdn.test/mod.js"></script>
</head><body><h1>Credential-less</h1><p class="f">text in the probe font</p>
<ul>""" + "".join(f'<li><span id="{c}">pending</span></li>' for c in CHECKS) + """</ul>
<script>
const show = (id, text) => { document.getElementById(id).textContent = text; };
const read = (r) => r.ok ? r.text() : Promise.reject(new Error('status ' + r.status));
async function run() {
  await fetch('http://api.site.test/login', { credentials: 'include' }).then(read);
  fetch('http://api.site.test/data').then(read).then((t) => show('fetch', t), (e) => show('fetch', String(e)));
  fetch('http://api.site.test/data?omit', { credentials: 'omit' }).then(read)
    .then((t) => show('omit', t), (e) => show('omit', String(e)));
  fetch('http://api.site.test/who', { credentials: 'include' }).then(read)
    .then((t) => show('include', t), (e) => show('include', String(e)));
  const font = await fetch('http://cdn.test/probe.woff2', { mode: 'cors' }).then((r) => r.status, String);
  show('font', 'font ' + font);
  show('script', window.libLoaded ? 'ok' : 'missing');
}
window.addEventListener('load', () => run().catch((e) => show('fetch', 'broken ' + e)));
</script></body></html>"""

MODULE = "document.getElementById('module').textContent = 'ok';"


def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


def _app_site(log: HitLog, host: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    return app


def _api_site(log: HitLog, host: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])

    async def login(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="in")
        response.headers["Set-Cookie"] = "tok=secret; Path=/; SameSite=Lax"
        return _cors(request, response)

    async def data(request: web.Request) -> web.StreamResponse:
        return _cors(request, web.Response(text="cookie " + ("yes" if request.headers.get("Cookie") else "no")))

    async def who(request: web.Request) -> web.StreamResponse:
        return _cors(request, web.Response(text=request.headers.get("Cookie", "none")))

    app.router.add_get("/login", login)
    app.router.add_get("/data", data)
    app.router.add_get("/who", who)
    return app


def _cdn_site(log: HitLog, host: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])

    async def font(request: web.Request) -> web.StreamResponse:
        response = web.Response(body=b"wOF2" + b"\0" * 60, content_type="font/woff2")
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def lib(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="window.libLoaded = true;", content_type="text/javascript")
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def module(request: web.Request) -> web.StreamResponse:
        response = web.Response(text=MODULE, content_type="text/javascript")
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    app.router.add_get("/probe.woff2", font)
    app.router.add_get("/lib.js", lib)
    app.router.add_get("/mod.js", module)
    return app


EXPECTED = {"fetch": "cookie no", "omit": "cookie no", "include": "tok=secret", "font": "font 200",
            "script": "ok", "module": "ok"}


@pytest.fixture
async def sites() -> AsyncIterator[World]:
    world = await start_world({APP: _app_site, API: _api_site, CDN: _cdn_site})
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
async def server(sites: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sites.resolve_overrides())


def _hits(log: HitLog) -> Counter[tuple[str, str, str]]:
    return Counter((hit.server, hit.method, hit.path) for hit in log if hit.path != "/favicon.ico")


async def test_direct_reference(playwright: Playwright, sites: World) -> None:
    """The page's own view directly: what the proxy must reproduce."""
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--host-resolver-rules={sites.host_resolver_rules()}"])
    try:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"http://{APP}/")
        assert await wait_checks(page, CHECKS) == EXPECTED
    finally:
        await browser.close()


async def test_requests_without_cookies_reach_their_targets_without_the_jars_cookies(
        browser: Browser, sites: World, server: Cobrowse) -> None:
    created = await server.create_session(f"http://{APP}/")
    leader = await open_party(browser, created["leader_url"])
    assert view_in(leader.page.url)
    assert await wait_checks(leader.page, CHECKS) == EXPECTED
    # Only the credentialed fetch carried the jar's cookie to the API.
    cookies = {hit.path: hit.header("Cookie") for hit in sites.log.for_server(API)}
    assert cookies["/who"] == "tok=secret" and cookies["/data"] is None
    assert {h.path for h in sites.log.for_server(CDN)} >= {"/probe.woff2", "/lib.js", "/mod.js"}


async def test_a_followers_requests_without_cookies_are_served_from_the_store(
        browser: Browser, sites: World, server: Cobrowse) -> None:
    created = await server.create_session(f"http://{APP}/")
    leader = await open_party(browser, created["leader_url"])
    await leader.wait_connected()
    assert await wait_checks(leader.page, CHECKS) == EXPECTED
    alone = _hits(sites.log)
    follower = await join_follower(browser, created)
    assert view_in(follower.page.url) not in ("", view_in(leader.page.url))
    assert await wait_checks(follower.page, CHECKS) == EXPECTED
    assert _hits(sites.log) == alone


async def test_what_stays_refused_without_a_credential(sites: World, server: Cobrowse, browser: Browser) -> None:
    created = await server.create_session(f"http://{APP}/")
    leader = await open_party(browser, created["leader_url"])
    assert await wait_checks(leader.page, CHECKS) == EXPECTED
    view, sid = view_in(leader.page.url), created["id"]
    page_origin = server.proxy_url(sid, APP, "", view=view)
    subresource = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-site",
                   "Origin": page_origin}
    api = server.proxy_url(sid, API, "/data", view=view)
    before = len(sites.log)
    # The control: the same request as the page's fetch is admitted.
    assert (await server.request("GET", api, headers=subresource, cookies={})).status == 200
    refused = {
        "navigation": (api, {**subresource, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}),
        "no fetch metadata": (api, {"Origin": page_origin}),
        "unknown view": (server.proxy_url(sid, API, "/data", view="zzzz"), subresource),
        "no view": (server.proxy_url(sid, API, "/data"), subresource),
        "page of another view": (api, {**subresource, "Origin": server.proxy_url(sid, APP, "", view="zzzz")}),
        "page of the real web": (api, {**subresource, "Origin": f"http://{APP}"}),
        "page never opened": (api, {**subresource, "Origin": server.proxy_url(sid, CDN, "", view=view)}),
        "no initiator": (api, {k: v for k, v in subresource.items() if k != "Origin"}),
        "cobrowse's own endpoint": (server.proxy_url(sid, APP, "/__cb/cookie", view=view), subresource),
    }
    for what, (url, headers) in refused.items():
        reply = await server.request("GET", url, headers=headers, cookies={})
        assert reply.status == 403, f"{what}: {reply.status}"
    assert len(sites.log) == before + 1  # only the control reached a target
