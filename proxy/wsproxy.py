"""Proxied WebSockets: the browser's socket to a proxy host <-> the real target socket.

The upstream handshake carries the target's real Host/Origin and the session jar's cookies,
and goes through the same target policy and SSRF guard as HTTP (the upstream client judges
both before it dials). Messages are relayed both ways unchanged,
each capped at ``Config.max_ws_message``; either side closing closes the other.

Fetch once: only the driver's socket is real. What the target sends on it is also published
on a fan-out channel in the session's response store, shared by every server process
(``sessions.response_sockets``); a follower's socket to the same URL
(matched by the same key as HTTP, ``sessions.matching``) subscribes to the latest open one,
gets a bounded backlog of what was sent before it came, then every new message. What a
follower sends never goes upstream (the target acts once). A follower that connects first waits
up to ``Config.follower_wait`` for the driver's socket (else 504); when the driver's socket
closes, its followers' sockets close too.

Correlation tokens (``sessions.wspairing``): what the driver sends is logged on the channel; what
a follower sends is paired with the driver's twin of it, and the follower's copy of the target's
messages carries its own ids in place of the driver's (a client that draws only replies to
requests it made, as JupyterLab does, draws them). A message naming a driver id the follower has
not sent its twin of yet is held, in order, up to ``Config.follower_wait``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from proxy.audit import policy_refused
from proxy.audit_ws import SocketTrace
from proxy.exchange import is_driver, upstream_headers
from proxy.keys import CONFIG, OPEN_SOCKETS, RESPONSES, TARGETS, UPSTREAM
from proxy.pages import error_page
from proxy.targets import policy_for
from proxy.upstream_errors import refusal_for
from proxy.visit import Visit
from rewriter.headers import RequestContext
from sessions.matching import key_for
from sessions.responses import Channel, ResponseStore
from sessions.wspairing import Frame, Pairing

# Sub-protocols travel in their own argument; the rest of the handshake is aiohttp's to make.
_HANDSHAKE_HEADERS = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                                "sec-websocket-protocol", "upgrade", "connection"})


async def relay(request: web.Request, visit: Visit) -> web.StreamResponse:
    config = request.app[CONFIG]
    responses = request.app[RESPONSES].for_session(visit.session.id)
    if not is_driver(visit):
        return await follow(request, visit, responses)
    ws_url = "ws" + visit.real_url[4:] if visit.real_url.startswith("http") else visit.real_url
    ctx = RequestContext(url=visit.real_url, space=visit.space, method="GET")
    headers = [(k, v) for k, v in await upstream_headers(request, visit, ctx, websocket=True)
               if k.lower() not in _HANDSHAKE_HEADERS]
    protocols = _offered(request)
    try:
        upstream = await request.app[UPSTREAM].ws_connect(ws_url, headers, protocols,
                                                           policy=policy_for(request.app[TARGETS], visit.session))
    except Exception as exc:
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        policy_refused(request.app, visit.session.id, visit.participant.id, visit.real_url, exc)
        return refusal
    browser = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                    max_msg_size=config.max_ws_message, autoping=True)
    await browser.prepare(request)
    request.app[OPEN_SOCKETS].add(browser)  # closed if the server stops
    trace = SocketTrace.opened(request, visit, "upstream")
    try:
        channel = await responses.open_channel(key_for("WEBSOCKET", visit.real_url), upstream.protocol or "")
        try:
            await _pump_both(browser, upstream, channel, trace)
        finally:
            await responses.close_channel(channel)
    finally:
        try:
            await upstream.close()
            await browser.close()
        finally:
            trace.closed(browser.close_code)
    return browser


async def follow(request: web.Request, visit: Visit, responses: ResponseStore) -> web.StreamResponse:
    """A follower's socket: a copy of what the target sends the driver, carrying the follower's own
    correlation tokens (``sessions.wspairing``); what it sends pairs tokens and goes no further."""
    config = request.app[CONFIG]
    subscription = await responses.attach(key_for("WEBSOCKET", visit.real_url), config.follower_wait)
    if subscription is None:
        return error_page(504, "Not connected yet",
                          "The leader's page has not opened this connection, so there is nothing to follow.")
    agreed = subscription.protocol
    browser = web.WebSocketResponse(protocols=[agreed] if agreed in _offered(request) else (),
                                    max_msg_size=config.max_ws_message, autoping=True)
    try:
        await browser.prepare(request)
    except BaseException:
        await subscription.cancel()
        raise
    request.app[OPEN_SOCKETS].add(browser)  # closed if the server stops
    pairing = Pairing(subscription.sent, config.follower_wait)
    trace = SocketTrace.opened(request, visit, "store")
    clock = asyncio.get_running_loop().time
    turn = asyncio.Lock()  # a batch of released frames goes out whole, before the next batch

    async def send(frames: list[Frame]) -> None:
        for is_text, data in frames:
            trace.down(is_text, data)
            if is_text:
                await browser.send_str(str(data))
            else:
                await browser.send_bytes(data if isinstance(data, bytes) else data.encode())

    async def copy_out() -> None:
        messages = subscription.messages()
        upcoming: asyncio.Future[tuple[bool, str | bytes]] | None = None
        try:
            while True:
                upcoming = upcoming or asyncio.ensure_future(anext(messages))
                deadline = pairing.deadline()
                await asyncio.wait({upcoming}, timeout=None if deadline is None else max(0.0, deadline - clock()))
                async with turn:
                    if not upcoming.done():
                        await send(pairing.expire(clock()))
                        continue
                    try:
                        is_text, data = upcoming.result()
                    except StopAsyncIteration:
                        await send(pairing.flush())
                        return
                    upcoming = None
                    await send(pairing.from_target(is_text, data, clock()))
        finally:
            if upcoming is not None:
                upcoming.cancel()

    async def take_in() -> None:
        async for message in browser:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            trace.up(message.type == aiohttp.WSMsgType.TEXT, message.data)
            async with turn:
                await send(pairing.from_follower(message.type == aiohttp.WSMsgType.TEXT, message.data, clock()))

    out, inbound = asyncio.ensure_future(copy_out()), asyncio.ensure_future(take_in())
    try:
        await asyncio.wait({out, inbound}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (out, inbound):
            task.cancel()
        await asyncio.gather(out, inbound, return_exceptions=True)
        await subscription.cancel()
        try:
            await browser.close()
        finally:
            trace.closed(browser.close_code)
    return browser


def _offered(request: web.Request) -> list[str]:
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]


async def _pump_both(browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse,
                     channel: Channel, trace: SocketTrace) -> None:
    to_target = asyncio.ensure_future(_pump(browser, upstream, channel.record, trace.up))
    to_browser = asyncio.ensure_future(_pump(upstream, browser, channel.publish, trace.down))
    try:
        await asyncio.wait({to_target, to_browser}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_target, to_browser):
            task.cancel()
        await asyncio.gather(to_target, to_browser, return_exceptions=True)


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                tap: Callable[[bool, str | bytes], Awaitable[None]],
                count: Callable[[bool, str | bytes], None]) -> None:
    """Relay ``source`` to ``sink``; ``count`` (the audit) and ``tap`` (the fan-out, or the driver's sent log)
    see each message first."""
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            count(True, message.data)
            await tap(True, message.data)
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            count(False, message.data)
            await tap(False, message.data)
            await sink.send_bytes(message.data)
        else:
            break
