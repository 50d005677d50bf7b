"""Content types through the proxy, in real Chromium and with a raw client: a response without
``Content-Type`` behaves as it does directly (no download, the same sniffed type), XML documents
(an SVG document, a feed made by Django's feed generator) have their URLs in the proxy space,
JSON is passed byte for byte, and a follower's replay keeps "no Content-Type" as it was.

The target is one small aiohttp site (``types.test``); its type-less answers have their
Content-Type removed in ``on_response_prepare``, after aiohttp set its default.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from django.utils import feedgenerator
from playwright.async_api import Browser, Page, Playwright
from world import HitLog, ServeWorld, World
from world.browser import RequestRecorder, launch
from world.harness import DOMAIN, Cobrowse, StartCobrowse, view_in
from world.hits import hit_middleware
from world.sync_client import join, start_session

HOST = "types.test"
TARGET = f"http://{HOST}"
WAIT_MS = 15_000
_UNTYPED = web.ResponseKey("test_untyped", bool)

PAGE = b"""<!doctype html><html><head><title>untyped</title>
<script src="/untyped.js"></script></head><body>
<p id="ran">pending</p><p id="js">pending</p>
<a id="out" href="http://types.test/next">next</a>
<script>document.getElementById('ran').textContent = 'ok';</script>
</body></html>"""
SCRIPT = b"document.addEventListener('DOMContentLoaded', () => { document.getElementById('js').textContent = 'ok'; });"
SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200">
  <style>.paint { fill: url(http://types.test/grad.svg#g); }</style>
  <image id="img" xlink:href="http://types.test/img.png" width="10" height="10"/>
  <rect class="paint" x="150" y="150" width="10" height="10"/>
  <a id="next" href="http://types.test/next"><rect x="20" y="20" width="100" height="100" fill="black"/></a>
</svg>"""
XHTML = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>xhtml</title></head>
<body><p id="ran">pending</p><a id="out" href="http://types.test/next">next</a>
<script>document.getElementById('ran').textContent = typeof window.open === 'function' ? 'ok' : 'no';</script>
</body></html>"""
DATA = {"self": "http://types.test/data.json", "next": "https://types.test/page/2"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _feed() -> bytes:
    feed = feedgenerator.Rss201rev2Feed(title="Types", link=f"{TARGET}/", description="a real feed",
                                        feed_url=f"{TARGET}/feed.xml")
    for n in range(3):
        feed.add_item(title=f"Story {n}", link=f"{TARGET}/story/{n}", description="story")
    return feed.writeString("utf-8").encode("utf-8")


def _untyped(body: bytes, **headers: str) -> web.Response:
    response = web.Response(body=body, headers=headers)
    response[_UNTYPED] = True
    return response


_EMPTY_TYPE = web.ResponseKey("test_empty_type", bool)


async def _strip_type(request: web.Request, response: web.StreamResponse) -> None:
    if response.get(_UNTYPED):
        response.headers.popall("Content-Type", None)
    if response.get(_EMPTY_TYPE):
        response.headers["Content-Type"] = ""


def _empty_type(body: bytes) -> web.Response:
    response = web.Response(body=body)
    response[_EMPTY_TYPE] = True
    return response


def make_site(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.on_response_prepare.append(_strip_type)
    routes = {
        "/redirect": lambda r: web.HTTPFound("/untyped"),
        "/untyped": lambda r: _untyped(PAGE),
        "/untyped.js": lambda r: _untyped(SCRIPT),
        "/untyped-text": lambda r: _untyped(b"just words, no markup"),
        "/empty-type": lambda r: _empty_type(PAGE),
        "/untyped-gzip": lambda r: _untyped(gzip.compress(PAGE), **{"Content-Encoding": "gzip"}),
        "/next": lambda r: web.Response(text="<!doctype html><p id=next>next</p>", content_type="text/html"),
        "/page.xhtml": lambda r: web.Response(body=XHTML, content_type="application/xhtml+xml"),
        "/doc.svg": lambda r: web.Response(body=SVG, content_type="image/svg+xml"),
        "/img.png": lambda r: web.Response(body=PNG, content_type="image/png"),
        "/grad.svg": lambda r: web.Response(body=b'<svg xmlns="http://www.w3.org/2000/svg"/>',
                                            content_type="image/svg+xml"),
        "/feed.xml": lambda r: web.Response(body=_feed(), content_type="application/rss+xml"),
        "/data.json": lambda r: web.Response(body=json.dumps(DATA).encode(), content_type="application/json"),
    }
    for path, make in routes.items():
        app.router.add_get(path, _handler(make))
    return app


def _handler(make):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.StreamResponse:
        answer = make(request)
        if isinstance(answer, web.HTTPException):
            raise answer
        return answer

    return handle


@pytest.fixture
async def site(serve_world: ServeWorld) -> World:
    return await serve_world({HOST: make_site})


@pytest.fixture
async def server(site: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=site.resolve_overrides())


@pytest.fixture
async def direct(playwright: Playwright, site: World) -> AsyncIterator[Browser]:
    launched = await launch(playwright, (f"--host-resolver-rules={site.host_resolver_rules()}",))
    try:
        yield launched
    finally:
        await launched.close()


async def _view(page: Page) -> dict[str, str]:
    """What the page is, as it sees itself (no URL: those differ by design)."""
    await page.wait_for_load_state("load")
    view: dict[str, str] = await page.evaluate("""() => ({
        type: document.contentType, title: document.title,
        ran: document.getElementById('ran')?.textContent ?? 'missing',
        js: document.getElementById('js')?.textContent ?? 'missing',
        text: document.body ? document.body.innerText.slice(0, 40) : '' })""")
    return view


async def _through_proxy(browser: Browser, server: Cobrowse, path: str) -> tuple[Page, str, RequestRecorder]:
    created = await server.create_session(f"{TARGET}{path}")
    context = await browser.new_context(accept_downloads=True)
    recorder = RequestRecorder()
    recorder.attach(context)
    page = await context.new_page()
    await page.goto(str(created["leader_url"]))
    # What follows "--" in the leader's proxy hosts: the session id and the leader's view.
    assert view_in(page.url)
    return page, f"{created['id']}-{view_in(page.url)}", recorder


# -- a response without Content-Type -----------------------------------------------------


async def test_redirect_to_a_typeless_html_page_renders_through_the_proxy_as_directly(
        direct: Browser, browser: Browser, server: Cobrowse, site: World) -> None:
    page = await (await direct.new_context(accept_downloads=True)).new_page()
    await page.goto(f"{TARGET}/redirect")  # a download would raise here
    expected = await _view(page)
    assert expected["type"] == "text/html" and expected["ran"] == "ok" and expected["js"] == "ok"

    proxied, sid, recorder = await _through_proxy(browser, server, "/redirect")
    await proxied.wait_for_function("document.getElementById('js')?.textContent === 'ok'", timeout=WAIT_MS)
    assert await _view(proxied) == expected
    # The runtime is in the page and its link was mapped: following it stays in the proxy space.
    await proxied.click("#out")
    await proxied.wait_for_url(f"**--{sid}.{DOMAIN}:{server.port}/next")
    assert await proxied.text_content("#next") == "next"
    assert recorder.outside(DOMAIN) == []


async def test_typeless_gzip_html_and_typeless_text_are_sniffed_as_directly(
        direct: Browser, browser: Browser, server: Cobrowse) -> None:
    """Bodies the proxy passes untouched: no nosniff, so Chromium sniffs them as it does directly
    (with nosniff the gzip page would show as text/plain)."""
    for path in ("/untyped-gzip", "/untyped-text"):
        page = await (await direct.new_context(accept_downloads=True)).new_page()
        await page.goto(f"{TARGET}{path}")
        expected = await _view(page)
        proxied, _, _ = await _through_proxy(browser, server, path)
        await proxied.wait_for_url(f"**{path}")
        assert await _view(proxied) == expected, path
    assert expected["type"] == "text/plain"


async def test_typeless_answers_keep_no_content_type_for_the_driver_and_the_followers_replay(
        server: Cobrowse, site: World) -> None:
    created, leader = await start_session(server, f"{TARGET}/untyped")
    follower = await join(server, created)
    doc = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
    text_url = server.proxy_url(created["id"], HOST, "/untyped-text")
    page_url = server.proxy_url(created["id"], HOST, "/untyped")
    for cookies in (leader.cookies, follower.cookies):
        text = await server.request("GET", text_url, headers=doc, cookies=cookies)
        assert text.status == 200 and text.body == b"just words, no markup"
        assert "Content-Type" not in text.headers and "X-Content-Type-Options" not in text.headers
        page = await server.request("GET", page_url, headers=doc, cookies=cookies)
        assert page.header("Content-Type") == "text/html; charset=utf-8"
        assert page.header("X-Content-Type-Options") == "nosniff"
        assert f"--{created['id']}.{DOMAIN}:{server.port}/next".encode() in page.body
        assert b"/__cb/runtime.js" in page.body
    assert [h.path for h in site.log].count("/untyped-text") == 1  # the follower's came from the store


async def test_an_empty_content_type_value_is_no_type(server: Cobrowse) -> None:
    created, leader = await start_session(server, f"{TARGET}/empty-type")
    url = server.proxy_url(created["id"], HOST, "/empty-type")
    page = await server.request("GET", url, headers={"Sec-Fetch-Dest": "document"}, cookies=leader.cookies)
    assert page.header("Content-Type") == "text/html; charset=utf-8"  # sniffed as HTML, rewritten
    assert b"/__cb/runtime.js" in page.body
    script = await server.request("GET", url, headers={"Sec-Fetch-Dest": "script"}, cookies=leader.cookies)
    assert "Content-Type" not in script.headers and "X-Content-Type-Options" not in script.headers


# -- XML documents and JSON ----------------------------------------------------------------


async def test_an_svg_document_through_the_proxy_loads_and_links_only_in_the_proxy_space(
        browser: Browser, server: Cobrowse, site: World) -> None:
    page, sid, recorder = await _through_proxy(browser, server, "/doc.svg")
    await page.wait_for_function("document.documentElement.localName === 'svg'", timeout=WAIT_MS)
    # The positive event: the image and the CSS pattern reached the target.
    await site.log.wait_for(lambda log: {"/img.png", "/grad.svg"} <= log.paths(HOST), "the SVG's image and pattern",
                            WAIT_MS / 1000)
    await page.click("#next")
    await page.wait_for_url(f"**--{sid}.{DOMAIN}:{server.port}/next")
    assert recorder.outside(DOMAIN) == []


async def test_an_rss_feed_made_by_django_shows_its_links_in_the_proxy_space(
        browser: Browser, server: Cobrowse) -> None:
    page, sid, recorder = await _through_proxy(browser, server, "/feed.xml")
    await page.wait_for_function("document.body && document.body.innerText.includes('Story 2')", timeout=WAIT_MS)
    text = await page.evaluate("document.body.innerText")
    for n in range(3):
        assert f"--{sid}.{DOMAIN}:{server.port}/story/{n}" in text
    assert "http://types.test/story" not in text
    assert recorder.outside(DOMAIN) == []


async def test_an_xhtml_document_gets_the_runtime_and_renders_as_directly(
        direct: Browser, browser: Browser, server: Cobrowse) -> None:
    page = await direct.new_page()
    await page.goto(f"{TARGET}/page.xhtml")
    expected = await _view(page)
    assert expected["type"] == "application/xhtml+xml" and expected["ran"] == "ok"
    proxied, sid, recorder = await _through_proxy(browser, server, "/page.xhtml")
    await proxied.wait_for_function("document.getElementById('ran')?.textContent === 'ok'", timeout=WAIT_MS)
    assert await _view(proxied) == expected
    await proxied.wait_for_function("() => !!window.__cbRuntime", timeout=WAIT_MS)  # the runtime ran
    await proxied.click("#out")
    await proxied.wait_for_url(f"**--{sid}.{DOMAIN}:{server.port}/next")
    assert recorder.outside(DOMAIN) == []


async def test_json_passes_through_byte_for_byte_even_as_a_document(server: Cobrowse) -> None:
    created, leader = await start_session(server, f"{TARGET}/data.json")
    url = server.proxy_url(created["id"], HOST, "/data.json")
    for dest in ("document", "empty"):
        reply = await server.request("GET", url, headers={"Sec-Fetch-Dest": dest}, cookies=leader.cookies)
        assert reply.status == 200 and reply.body == json.dumps(DATA).encode()
        assert reply.header("Content-Type") == "application/json"


async def test_a_feed_fetched_by_a_script_is_data_and_keeps_its_real_urls(server: Cobrowse) -> None:
    created, leader = await start_session(server, f"{TARGET}/feed.xml")
    url = server.proxy_url(created["id"], HOST, "/feed.xml")
    fetched = await server.request("GET", url, headers={"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"},
                                   cookies=leader.cookies)
    assert fetched.body == _feed()
    navigated = await server.request("GET", url, headers={"Sec-Fetch-Dest": "document"}, cookies=leader.cookies)
    assert b"http://types.test/story/0" not in navigated.body
    assert navigated.header("Content-Type") == "application/rss+xml; charset=utf-8"
