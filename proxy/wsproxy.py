"""Proxied WebSockets: the browser's socket to a proxy host <-> the real target socket.

The upstream handshake carries the target's real Host/Origin and the session jar's cookies,
and goes through the same SSRF guard as HTTP. Messages are relayed both ways unchanged,
each capped at ``Config.max_ws_message``; either side closing closes the other.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web

from proxy.keys import CONFIG, STORE, UPSTREAM
from proxy.upstream_errors import refusal_for
from proxy.visit import Visit
from rewriter.headers import RequestContext, initiator_origin, rewrite_request_headers

# Sub-protocols travel in their own argument; the rest of the handshake is aiohttp's to make.
_HANDSHAKE_HEADERS = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                                "sec-websocket-protocol", "upgrade", "connection"})


async def relay(request: web.Request, visit: Visit) -> web.StreamResponse:
    config = request.app[CONFIG]
    ws_url = "ws" + visit.real_url[4:] if visit.real_url.startswith("http") else visit.real_url
    ctx = RequestContext(url=visit.real_url, space=visit.space, method="GET")
    browser_headers = list(request.headers.items())
    headers = [(k, v) for k, v in rewrite_request_headers(browser_headers, ctx, websocket=True)
               if k.lower() not in _HANDSHAKE_HEADERS]
    now = time.time()
    cookie = await request.app[STORE].with_jar(visit.session.id, lambda jar: jar.cookie_header(
        visit.real_url, now, site_for_cookies=initiator_origin(browser_headers, ctx),
        top_level_navigation=False, method="GET"))
    if cookie:
        headers.append(("Cookie", cookie))
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    try:
        upstream = await request.app[UPSTREAM].ws_connect(ws_url, headers, protocols)
    except Exception as exc:
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        return refusal
    browser = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                    max_msg_size=config.max_ws_message, autoping=True)
    await browser.prepare(request)
    try:
        await _pump_both(browser, upstream)
    finally:
        await upstream.close()
        await browser.close()
    return browser


async def _pump_both(browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    to_target = asyncio.ensure_future(_pump(browser, upstream))
    to_browser = asyncio.ensure_future(_pump(upstream, browser))
    try:
        await asyncio.wait({to_target, to_browser}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_target, to_browser):
            task.cancel()
        await asyncio.gather(to_target, to_browser, return_exceptions=True)


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
