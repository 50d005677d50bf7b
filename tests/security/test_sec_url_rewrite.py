"""Threat rows "pages reach the real web through slash-less URLs" and "a stylesheet's charset
label kills the rewriter", through the real proxy (issue 6, holes 2 and 12).

A target on loopback answers with every place a URL hides (Location, Refresh, Link, HTML
attributes, CSS) spelled without slashes (``https:evil.example/x`` names ``evil.example`` on an
http page), a stylesheet declaring ``@charset "hex"`` and one served ``charset=rot13``, and
``<meta http-equiv=refresh>`` to ``javascript:``/``data:``. Each answer must come back 200 (or
the redirect) with every such URL on a proxy host of the session, and the unsafe refreshes gone.

Before the fix: the slash-less URLs were passed through as written (the browser then went to
the real host), the two stylesheets answered 500 (``LookupError``), and the meta refreshes kept
their ``javascript:``/``data:`` targets while the ``Refresh`` header already dropped them.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from world import HitLog, ServeWorld, World
from world.harness import DOMAIN, Cobrowse, StartCobrowse, cookies_from
from world.hits import hit_middleware

TARGET = "http://slashless.test"
SLASHLESS = "https:evil.example/x"  # on an http page: https://evil.example/x


def _css(body: str, charset: str | None = None) -> web.Response:
    ctype = "text/css" + (f"; charset={charset}" if charset else "")
    return web.Response(body=body.encode("ascii"), headers={"Content-Type": ctype})


async def _page(request: web.Request) -> web.Response:
    html = """<!doctype html><html><head>
<meta http-equiv="refresh" content="5; url=https:evil.example/refresh">
<link rel=stylesheet href="https:evil.example/style.css">
</head><body>
<a id=a href=" https:\\\\evil.example\\a">a</a><img src="ht&#9;tps:evil.example/i.png">
<img srcset="https:evil.example/1.png 1x, https:evil.example/2.png 2x">
<div style="background:url(https:evil.example/bg.png)"></div>
<style>@import "https:evil.example/imp.css";</style>
</body></html>"""
    return web.Response(text=html, content_type="text/html")


async def _unsafe_refresh(request: web.Request) -> web.Response:
    target = {"js": "javascript:alert(document.domain)", "data": "data:text/html,<script>alert(1)</script>"}
    html = f'<!doctype html><meta http-equiv="refresh" content="0;url={target[request.match_info["kind"]]}"><p>x'
    return web.Response(text=html, content_type="text/html")


async def _headers(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={
        "Location": SLASHLESS, "Refresh": f"1; url={SLASHLESS}", "Link": f"<{SLASHLESS}>; rel=preload; as=image",
    })


async def _hex_css(request: web.Request) -> web.Response:
    return _css(f'@charset "hex";a{{background:url({SLASHLESS})}}')


async def _rot13_css(request: web.Request) -> web.Response:
    return _css(f"a{{background:url({SLASHLESS})}}", "rot13")


def make_target(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/", _page)
    app.router.add_get("/refresh/{kind}", _unsafe_refresh)
    app.router.add_get("/headers", _headers)
    app.router.add_get("/hex.css", _hex_css)
    app.router.add_get("/rot13.css", _rot13_css)
    return app


@pytest.fixture
async def target(serve_world: ServeWorld) -> World:
    return await serve_world({"slashless.test": make_target})


@pytest.fixture
async def server(target: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=target.resolve_overrides())


async def enter(server: Cobrowse) -> tuple[str, dict[str, str]]:
    created = await server.create_session(f"{TARGET}/")
    reply = await server.request("GET", str(created["leader_url"]), cookies={})
    assert reply.status == 302
    return str(created["id"]), cookies_from(reply.headers)


def evil(sid: str, server: Cobrowse) -> str:
    return f"http://s-evil-example--{sid}.{DOMAIN}:{server.port}"


async def test_slashless_urls_in_html_and_css_of_a_page_are_mapped_to_proxy_hosts(server: Cobrowse) -> None:
    sid, cookies = await enter(server)
    reply = await server.request("GET", server.proxy_url(sid, "slashless.test"), cookies=cookies)
    assert reply.status == 200
    proxy = evil(sid, server)
    for mapped in ("5; url=" + proxy + "/refresh", f'href="{proxy}/style.css"', f'href="{proxy}/a"',
                   f'src="{proxy}/i.png"', f"{proxy}/1.png 1x, {proxy}/2.png 2x", f"url({proxy}/bg.png)",
                   f'@import "{proxy}/imp.css"'):
        assert mapped in reply.text, mapped
    assert "https:evil" not in reply.text and "https:\\\\evil" not in reply.text


async def test_slashless_urls_in_location_refresh_and_link_headers_are_mapped(server: Cobrowse) -> None:
    sid, cookies = await enter(server)
    reply = await server.request("GET", server.proxy_url(sid, "slashless.test", "/headers"), cookies=cookies)
    proxy = evil(sid, server)
    assert reply.status == 302
    assert reply.header("Location") == f"{proxy}/x"
    assert reply.header("Refresh") == f"1; url={proxy}/x"
    assert reply.header("Link") == f"<{proxy}/x>; rel=preload; as=image"


@pytest.mark.parametrize("path", ["/hex.css", "/rot13.css"])
async def test_stylesheet_with_a_python_only_charset_label_answers_200_rewritten(
    server: Cobrowse, path: str
) -> None:
    sid, cookies = await enter(server)
    reply = await server.request("GET", server.proxy_url(sid, "slashless.test", path), cookies=cookies)
    assert reply.status == 200, reply.text[:300]
    assert f"url({evil(sid, server)}/x)" in reply.text


@pytest.mark.parametrize("kind", ["js", "data"])
async def test_meta_refresh_to_javascript_or_data_is_dropped_like_the_refresh_header(
    server: Cobrowse, kind: str
) -> None:
    sid, cookies = await enter(server)
    reply = await server.request("GET", server.proxy_url(sid, "slashless.test", f"/refresh/{kind}"), cookies=cookies)
    assert reply.status == 200 and "<p>x" in reply.text
    assert 'http-equiv="refresh"' in reply.text and "content=" not in reply.text.split('http-equiv="refresh"')[1][:5]
    assert "javascript:alert" not in reply.text and "data:text/html" not in reply.text
