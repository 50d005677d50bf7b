"""Threat-model rows on response headers (hole 11) and foreign-origin target WebSockets.

- Every proxied answer carries the proxy CSP (its exact directives), ``nosniff`` and a
  ``Referrer-Policy`` no looser than ``strict-origin-when-cross-origin``; in Chromium that CSP
  alone stops a page's fetch and image to a real origin (a canary sees nothing).
- The console, join and error pages carry a strict CSP (hashed inline code, no
  ``'unsafe-inline'``, ``frame-ancestors 'none'``) and still work in Chromium under it; the
  console opens the agent link without an opener.
- A WebSocket to a target through the proxy from a foreign ``Origin`` is refused (403) before
  the target is dialled.

Before the fix: no ``nosniff`` or ``Referrer-Policy`` on proxied answers, no CSP on the console
and join pages (frame-ancestors only on join), ``window.open`` kept the opener, and a foreign
``Origin`` reached the target socket (the fixture target refused it itself, with its own 403).
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from playwright.async_api import Browser, ConsoleMessage
from world import HitLog, ServeWorld, World
from world.canary import Canary
from world.harness import DOMAIN, Cobrowse, StartCobrowse, cookies_from, view_in
from world.hits import hit_middleware

from proxy.security_headers import PROXY_REFERRER_POLICY, referrer_policy

TARGET = "http://hdr.test"
WAIT_MS = 15_000


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><title>hdr</title><p id=t>hello</p>", content_type="text/html")


async def _with_policy(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><title>rp</title>", content_type="text/html",
                        headers={"Referrer-Policy": request.match_info["policy"]})


async def _leak_svg(request: web.Request) -> web.Response:
    """An SVG document (no runtime in it; its script builds both URLs, so the XML rewriter never
    sees them): only the CSP stands between its fetch and image and the real origin in ``?to=``."""
    to = request.query["to"]
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<script>
document.addEventListener('securitypolicyviolation', (e) => {{
  const root = document.documentElement;
  root.setAttribute('data-blocked', (root.getAttribute('data-blocked') || '') + ' ' + e.effectiveDirective);
}});
fetch('http://{to}/fetch').catch(() => {{}});
const image = document.createElementNS('http://www.w3.org/2000/svg', 'image');
image.setAttribute('width', '10');
image.setAttribute('height', '10');
image.setAttribute('href', 'http://{to}/img.png');
document.documentElement.appendChild(image);
</script>
</svg>"""
    return web.Response(text=svg, content_type="image/svg+xml")


async def _ws_echo(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Origin") != TARGET:
        raise web.HTTPForbidden(text="foreign Origin")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
    return ws


def make_target(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/", _page)
    app.router.add_get("/rp/{policy}", _with_policy)
    app.router.add_get("/leak.svg", _leak_svg)
    app.router.add_get("/ws", _ws_echo)
    return app


@pytest.fixture
async def target(serve_world: ServeWorld) -> World:
    return await serve_world({"hdr.test": make_target})


@pytest.fixture
async def server(target: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=target.resolve_overrides())


async def enter(server: Cobrowse) -> tuple[dict[str, object], dict[str, str]]:
    created = await server.create_session(f"{TARGET}/")
    reply = await server.request("GET", str(created["leader_url"]), cookies={})
    assert reply.status == 302
    return created, cookies_from(reply.headers)


def expected_proxy_csp(port: int) -> dict[str, str]:
    sources = (f"'self' http://{DOMAIN}:{port} http://*.{DOMAIN}:{port} ws://*.{DOMAIN}:{port} "
               "data: blob: 'unsafe-inline' 'unsafe-eval'")
    return {"default-src": sources, "form-action": sources, "base-uri": sources}


def directives(csp: str | None) -> dict[str, str]:
    assert csp, "no Content-Security-Policy"
    parts = (d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


# -- proxied answers -------------------------------------------------------------------------


async def test_every_proxied_answer_carries_the_csp_nosniff_and_a_referrer_policy(server: Cobrowse) -> None:
    created, cookies = await enter(server)
    sid = str(created["id"])
    url = server.proxy_url
    answers = {
        "page": await server.request("GET", url(sid, "hdr.test"), cookies=cookies),
        "svg": await server.request("GET", url(sid, "hdr.test", "/leak.svg?to=x"), cookies=cookies),
        "runtime asset": await server.request("GET", url(sid, "hdr.test", "/__cb/runtime.js"), cookies=cookies),
        "target 404": await server.request("GET", url(sid, "hdr.test", "/missing"), cookies=cookies),
        "preflight": await server.request("OPTIONS", url(sid, "hdr.test", "/"), cookies={}, headers={
            "Origin": url(sid, "hdr.test").rstrip("/"), "Access-Control-Request-Method": "PUT"}),
    }
    for name, reply in answers.items():
        assert reply.header("X-Content-Type-Options") == "nosniff", name
        assert directives(reply.header("Content-Security-Policy")) == expected_proxy_csp(server.port), name
        assert reply.header("Referrer-Policy") == PROXY_REFERRER_POLICY, name
    # Pages cobrowse answers itself on a session host keep their own, stricter policy.
    refused = await server.request("GET", url(sid, "hdr.test"), cookies={})
    assert refused.status == 403 and refused.header("X-Content-Type-Options") == "nosniff"
    own = directives(refused.header("Content-Security-Policy"))
    assert own["default-src"] == "'none'" and own["script-src"] == "'none'"
    assert refused.header("Referrer-Policy") == "no-referrer"


@pytest.mark.parametrize(("sent", "kept"), [
    ("no-referrer", "no-referrer"), ("same-origin", "same-origin"), ("strict-origin", "strict-origin"),
    ("unsafe-url", PROXY_REFERRER_POLICY), ("origin", PROXY_REFERRER_POLICY),
    ("no-referrer-when-downgrade", PROXY_REFERRER_POLICY),
])
async def test_a_targets_referrer_policy_is_kept_only_when_at_least_as_strict(
        server: Cobrowse, sent: str, kept: str) -> None:
    created, cookies = await enter(server)
    reply = await server.request("GET", server.proxy_url(str(created["id"]), "hdr.test", f"/rp/{sent}"),
                                 cookies=cookies)
    assert reply.status == 200 and reply.headers.getall("Referrer-Policy") == [kept]


def test_referrer_policy_follows_the_last_recognised_token_as_browsers_do() -> None:
    assert referrer_policy([]) == PROXY_REFERRER_POLICY
    assert referrer_policy(["no-referrer, unsafe-url"]) == PROXY_REFERRER_POLICY
    assert referrer_policy(["unsafe-url", "same-origin, bogus"]) == "same-origin"
    assert referrer_policy([" No-Referrer "]) == "no-referrer"


async def test_in_chromium_the_proxy_csp_alone_blocks_fetch_and_image_to_a_real_origin(
        server: Cobrowse, browser: Browser, canary: Canary) -> None:
    created = await server.create_session(f"{TARGET}/")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(created["leader_url"]))
    svg = server.proxy_url(str(created["id"]), "hdr.test", f"/leak.svg?to={canary.netloc}")
    await page.goto(svg)
    # The positive event: both attempts were made and each was refused by the CSP.
    await page.wait_for_function(
        "() => { const b = document.documentElement.getAttribute('data-blocked') || '';"
        " return b.includes('connect-src') && b.includes('img-src'); }", timeout=WAIT_MS)
    assert canary.connections == 0, canary.report()
    await context.close()


# -- control-plane pages ---------------------------------------------------------------------


def _strict(csp: str | None) -> dict[str, str]:
    found = directives(csp)
    assert found["default-src"] == "'none'" and found["frame-ancestors"] == "'none'"
    assert found["base-uri"] == "'none'"
    assert "unsafe-inline" not in (csp or "") and "unsafe-eval" not in (csp or "")
    assert re.fullmatch(r"('sha256-[A-Za-z0-9+/=]+' ?)+", found["style-src"])
    return found


async def test_console_and_join_pages_send_a_strict_csp_and_framing_headers(server: Cobrowse) -> None:
    created = await server.create_session(f"{TARGET}/")
    console = await server.request("GET", f"{server.control}/", cookies={})
    join = await server.request("GET", str(created["follower_url"]), cookies={})
    for reply in (console, join):
        assert reply.status == 200
        assert reply.header("X-Frame-Options") == "DENY" and reply.header("X-Content-Type-Options") == "nosniff"
        assert reply.header("Referrer-Policy") == "no-referrer"
    found = _strict(console.header("Content-Security-Policy"))
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", found["script-src"])
    assert found["connect-src"] == "'self'" and found["form-action"] == "'none'"
    found = _strict(join.header("Content-Security-Policy"))
    assert found["script-src"] == "'none'"
    assert found["form-action"] == f"'self' http://*.{DOMAIN}:{server.port}"
    assert 'noopener' in console.text


async def test_console_and_join_work_in_chromium_under_their_csp_and_the_agent_link_has_no_opener(
        server: Cobrowse, browser: Browser) -> None:
    context = await browser.new_context()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    context.on("console", watch)
    page = await context.new_page()
    await page.goto(f"{server.control}/#key=test-key")
    await page.fill("#url", f"{TARGET}/")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    follower_url = await page.input_value("#follower")
    async with context.expect_page(timeout=WAIT_MS) as opened:
        await page.click("#open")
    agent = await opened.value
    await agent.wait_for_selector("#t", timeout=WAIT_MS)
    assert await agent.evaluate("() => window.opener === null")
    sid = urlsplit(follower_url).path.split("/")[-1]
    assert urlsplit(agent.url).hostname.endswith(f"--{sid}-{view_in(agent.url)}.{DOMAIN}")
    # The visitor's join form posts, then is redirected into a session host: form-action allows both.
    visitor = await browser.new_context()
    visitor.on("console", watch)
    join = await visitor.new_page()
    await join.goto(follower_url)
    await join.fill("#name", "Vic")
    await join.click("button[type=submit]")
    await join.wait_for_selector("#t", timeout=WAIT_MS)
    assert violations == []
    await visitor.close()
    await context.close()


# -- target WebSockets -------------------------------------------------------------------------


async def test_a_target_websocket_from_a_foreign_origin_is_refused_before_the_target_is_dialled(
        server: Cobrowse, target: World) -> None:
    created, cookies = await enter(server)
    other = await server.create_session(f"{TARGET}/")
    sid = str(created["id"])
    host = urlsplit(server.proxy_url(sid, "hdr.test")).netloc
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

    async def handshake(origin: str) -> int:
        try:
            ws = await server.client.ws_connect(f"http://127.0.0.1:{server.port}/ws",
                                                headers={"Host": host, "Origin": origin, "Cookie": cookie})
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.send_str("ping")
        reply = await asyncio.wait_for(ws.receive(), 10)
        await ws.close()
        assert reply.data == "echo:ping"
        return 101

    foreign = ["http://evil.example", "null", "http://hdr.test",
               server.proxy_url(str(other["id"]), "hdr.test").rstrip("/")]
    for origin in foreign:
        assert await handshake(origin) == 403, origin
    assert target.log.paths("hdr.test") <= {"/"}  # the target's socket was never dialled
    # The positive: the page's own origin gets through to the target's echo.
    assert await handshake(f"http://{host}") == 101
    assert "/ws" in target.log.paths("hdr.test")
