"""Threat model: a proxied page sending cross-site requests that carry another site's SameSite cookies.

Every proxy host is one site to the browser, so Chromium's own SameSite checks are void between
a session's origins; the proxy applies SameSite itself on the real origins (``sessions.cookie_rules``).
Here, in real Chromium, site A (``a.test``) sets Strict, Lax and unspecified (Lax by default) cookies
in the session's jar; then pages of site B (``b.test``, same session) post and link to A, with and
without a Referer/Origin. What A's server receives is read from its hit log, after the hit itself
arrived (the positive event that fences each negative assertion).

Expected, as a browser does it between real sites:
- same-site requests (A to A) carry all three;
- a cross-site form POST or fetch POST carries none;
- a cross-site top-level GET navigation (a link) carries Lax and unspecified, never Strict;
- the same with ``Referrer-Policy: no-referrer`` (no Referer, ``Origin: null``): unknown means
  cross-site. These were the hole (hole 5): the old proxy sent every cookie when it did not know
  the initiator.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page
from world.harness import Cobrowse, StartCobrowse
from world.hits import Hit, HitLog, hit_middleware
from world.party import WAIT_MS, open_party
from world.targets import ServeWorld, World

STRICT, LAX, DEFAULT = "s", "l", "d"
ALL = {STRICT, LAX, DEFAULT}

DONE = "<!doctype html><meta charset=utf-8><title>done</title><h1 id=done>done</h1>"


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><meta charset=utf-8>{head}</head><body>{body}</body></html>"


# A: sets the cookies, echoes, and sends its own same-site requests.
A_SAME = _page("""<form id=f method=post action="/echo?via=same-form"><input name=x value=1></form>
<script>
fetch('/echo?via=same-fetch', {method: 'POST', body: 'x=1'}).then(() => document.getElementById('f').submit());
</script>""")

# B: cross-site requests to A, through absolute real URLs the proxy maps into the session.
B_POST = _page("""<form id=f method=post action="http://a.test/echo?via={tag}-form"><input name=x value=1></form>
<script>
fetch('http://a.test/echo?via={tag}-fetch', {method: 'POST', mode: 'no-cors', credentials: 'include',
  body: 'x=1'}).finally(() => document.getElementById('f').submit());
</script>""", "{head}")
B_LINK = _page('<a id=go href="http://a.test/echo?via={tag}-link">to A</a>', "{head}")
NO_REFERRER = '<meta name="referrer" content="no-referrer">'


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


def _site_a(log: HitLog, host: str) -> web.Application:
    async def set_cookies(request: web.Request) -> web.Response:
        response = _html(DONE)
        for line in ("s=1; SameSite=Strict; Path=/", "l=1; SameSite=Lax; Path=/", "d=1; Path=/"):
            response.headers.add("Set-Cookie", line)
        return response

    async def echo(request: web.Request) -> web.Response:
        await request.read()
        return _html(DONE)

    async def same(request: web.Request) -> web.Response:
        return _html(A_SAME)

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/set", set_cookies)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/same", same)
    return app


def _site_b(log: HitLog, host: str) -> web.Application:
    async def post(request: web.Request) -> web.Response:
        tag = request.query["tag"]
        head = NO_REFERRER if tag.startswith("noref") else ""
        return _html(B_POST.replace("{tag}", tag).replace("{head}", head))

    async def link(request: web.Request) -> web.Response:
        tag = request.query["tag"]
        head = NO_REFERRER if tag.startswith("noref") else ""
        return _html(B_LINK.replace("{tag}", tag).replace("{head}", head))

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/post", post)
    app.router.add_get("/link", link)
    return app


@pytest.fixture
async def sites(serve_world: ServeWorld) -> World:
    return await serve_world({"a.test": _site_a, "b.test": _site_b})


async def _hit(log: HitLog, via: str) -> Hit:
    """The request to A tagged ``via``, once it has arrived (the positive event)."""
    return await log.first(lambda h: h.server == "a.test" and h.path == "/echo" and f"via={via}" in h.query,
                           f"A receiving the {via!r} request", WAIT_MS / 1000)


async def _sent(log: HitLog, via: str) -> set[str]:
    return (await _hit(log, via)).cookie_names() & ALL


async def _landed(page: Page, via: str) -> None:
    """The page has finished navigating to A's echo tagged ``via``."""
    await page.wait_for_url(re.compile(f"via={via}$"), timeout=WAIT_MS)
    await page.wait_for_selector("#done", timeout=WAIT_MS)


async def _leader(browser: Browser, server: Cobrowse, world: World) -> tuple[Page, str]:
    created = await server.create_session("http://a.test/set")
    party = await open_party(browser, created["leader_url"])
    await party.page.wait_for_selector("#done", timeout=WAIT_MS)
    return party.page, str(created["id"])


async def test_cross_site_posts_between_proxied_origins_carry_no_samesite_cookies_and_links_carry_lax_only(
    browser: Browser, sites: World, start_server: StartCobrowse
) -> None:
    server = await start_server(resolve_overrides=sites.resolve_overrides())
    page, sid = await _leader(browser, server, sites)
    log = sites.log

    await page.goto(server.proxy_url(sid, "a.test", "/same"))
    assert await _sent(log, "same-fetch") == ALL, "same-site fetch POST lost its cookies"
    await _landed(page, "same-form")
    assert await _sent(log, "same-form") == ALL, "same-site form POST lost its cookies"

    await page.goto(server.proxy_url(sid, "b.test", "/post?tag=cross"))
    assert await _sent(log, "cross-fetch") == set()
    await _landed(page, "cross-form")
    assert await _sent(log, "cross-form") == set()
    assert (await _hit(log, "cross-form")).header("Origin") == "http://b.test"  # the proxy knew who asked

    await page.goto(server.proxy_url(sid, "b.test", "/link?tag=cross"))
    await page.click("#go")
    await _landed(page, "cross-link")
    assert await _sent(log, "cross-link") == {LAX, DEFAULT}


async def test_cross_site_requests_without_referer_or_origin_are_judged_cross_site(
    browser: Browser, sites: World, start_server: StartCobrowse
) -> None:
    """Hole 5: with no Referer and ``Origin: null`` the old proxy sent Strict and Lax cookies."""
    server = await start_server(resolve_overrides=sites.resolve_overrides())
    page, sid = await _leader(browser, server, sites)
    log = sites.log

    await page.goto(server.proxy_url(sid, "b.test", "/post?tag=noref"))
    form = await _hit(log, "noref-form")
    assert form.header("Referer") is None and form.header("Origin") in (None, "null")
    assert await _sent(log, "noref-fetch") == set()
    await _landed(page, "noref-form")
    assert await _sent(log, "noref-form") == set()

    await page.goto(server.proxy_url(sid, "b.test", "/link?tag=noref"))
    await page.click("#go")
    link = await _hit(log, "noref-link")
    assert link.header("Referer") is None
    await _landed(page, "noref-link")
    assert await _sent(log, "noref-link") == {LAX, DEFAULT}

    # Typed in (Sec-Fetch-Site: none): as same-site as it gets, Strict included.
    await page.goto(server.proxy_url(sid, "a.test", "/echo?via=typed"))
    assert await _sent(log, "typed") == ALL
