"""A counting front for a server that has no hit log of its own (Django, started as a subprocess).

``start_counting_front(log, name, port)`` serves an HTTP forwarder to ``127.0.0.1:port`` that
records every request as ``name`` before forwarding it: the cobrowse proxy is pointed at the
front, so every request that reaches the app is in the log, whatever the proxy believes it sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from world.hits import HitLog, hit_middleware
from world.targets import serve_app

# Per-connection headers: each hop sets its own (RFC 9110, 7.6.1); aiohttp writes the framing ones.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                         "upgrade", "content-length"})


def _front_app(log: HitLog, name: str, port: int) -> web.Application:
    client_key = web.AppKey("client", aiohttp.ClientSession)

    async def client_ctx(app: web.Application) -> AsyncIterator[None]:
        app[client_key] = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        yield
        await app[client_key].close()

    async def forward(request: web.Request) -> web.Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        body = await request.read()
        async with request.app[client_key].request(
                request.method, f"http://127.0.0.1:{port}{request.rel_url}", headers=headers,
                data=body if body else None, allow_redirects=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type")) as upstream:
            payload = await upstream.read()
            kept = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP)
            return web.Response(status=upstream.status, reason=upstream.reason, body=payload, headers=kept)

    app = web.Application(middlewares=[hit_middleware(log, name)], client_max_size=16 * 1024 * 1024)
    app.cleanup_ctx.append(client_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def start_counting_front(log: HitLog, name: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve a forwarder to ``127.0.0.1:port`` that records every request as ``name``; the
    caller cleans the runner up. Bodies are forwarded whole (the apps behind it are small)."""
    return await serve_app(_front_app(log, name, port))
