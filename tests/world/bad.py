"""Hostile upstreams for the bad-input tests (``bad.test``) and a canary listener.

``bad.test`` serves: a gzip bomb (~10 MB on the wire, ~10 GB decoded) as HTML and as a
download, a 100 MB HTML page (streamed from one reused chunk, so the fixture itself stays
small), a body that drips one byte every few seconds, a redirect loop, a ``javascript:``
redirect, and a page with 500 ``Set-Cookie`` headers. ``drip_server`` is a raw TCP server whose
status line drips too (so the proxy never even sees headers). ``start_canary`` is a
``world.canary.Canary`` on 127.0.0.1: the SSRF tests aim at it and require zero connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from dataclasses import dataclass, field

from aiohttp import web

from world.canary import Canary
from world.hits import HitLog, hit_middleware

BOMB_BLOCK_BYTES = 1 << 20
BOMB_WIRE_BYTES = 10 << 20
BIG_PAGE_BYTES = 100 << 20
SET_COOKIE_COUNT = 500
DRIP_INTERVAL = 5.0
DRIP_BYTES = 12  # the drip gives up after this many bytes (a minute): no fixture runs forever


@dataclass(frozen=True, slots=True)
class GzipBomb:
    """A gzip stream of zeros: head, one repeated 1 MiB-of-zeros block, tail.

    With a full flush after each block the compressed blocks are byte-identical, so a bomb of any
    size costs one block of memory to serve. The trailer's CRC is not valid: decoders must give
    up on the size long before they reach it.
    """

    head: bytes
    block: bytes
    tail: bytes
    blocks: int

    @classmethod
    def build(cls, wire_bytes: int = BOMB_WIRE_BYTES) -> GzipBomb:
        zeros = bytes(BOMB_BLOCK_BYTES)
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        head = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        tail = comp.flush()
        return cls(head, block, tail, max(1, (wire_bytes - len(head)) // len(block)))

    @property
    def decoded_bytes(self) -> int:
        return (self.blocks + 1) * BOMB_BLOCK_BYTES


async def _stream_bomb(request: web.Request, content_type: str) -> web.StreamResponse:
    bomb: GzipBomb = request.app[BOMB]
    response = web.StreamResponse(headers={"Content-Type": content_type, "Content-Encoding": "gzip"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the proxy hanging up early is the point
        await response.write(bomb.head)
        for _ in range(bomb.blocks):
            await response.write(bomb.block)
        await response.write(bomb.tail)
        await response.write_eof()
    return response


async def bomb_html(request: web.Request) -> web.StreamResponse:
    return await _stream_bomb(request, "text/html; charset=utf-8")


async def bomb_download(request: web.Request) -> web.StreamResponse:
    return await _stream_bomb(request, "application/octet-stream")


async def big_page(request: web.Request) -> web.StreamResponse:
    """100 MB of HTML; ``?chunked`` leaves out Content-Length so the size shows only while reading."""
    chunk = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
    count = BIG_PAGE_BYTES // len(chunk)
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    if "chunked" in request.query:
        response.enable_chunked_encoding()
    else:
        response.content_length = count * len(chunk)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(count):
            await response.write(chunk)
        await response.write_eof()
    return response


async def drip_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(DRIP_BYTES):
            await response.write(b"x")
            await asyncio.sleep(DRIP_INTERVAL)
        await response.write_eof()
    return response


async def redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("http://bad.test/loop")


async def javascript_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("javascript:alert(1)")


async def many_cookies(request: web.Request) -> web.Response:
    response = web.Response(text="<p id=done>ok</p>", content_type="text/html")
    for i in range(SET_COOKIE_COUNT):
        response.headers.add("Set-Cookie", f"c{i}={'v' * 100}; Path=/")
    return response


async def echo_cookies(request: web.Request) -> web.Response:
    return web.json_response({"count": len(request.cookies), "bytes": len(request.headers.get("Cookie", ""))})


BOMB: web.AppKey[GzipBomb] = web.AppKey("bomb", GzipBomb)


def make_app(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app[BOMB] = GzipBomb.build()
    app.router.add_get("/bomb.html", bomb_html)
    app.router.add_get("/bomb.bin", bomb_download)
    app.router.add_get("/big.html", big_page)
    app.router.add_get("/drip.html", drip_body)
    app.router.add_get("/loop", redirect_loop)
    app.router.add_get("/js-redirect", javascript_redirect)
    app.router.add_get("/cookies/set", many_cookies)
    app.router.add_get("/cookies/echo", echo_cookies)
    return app


@dataclass(slots=True)
class TcpFixture:
    """A raw asyncio TCP server on a loopback ephemeral port that counts connections (the drip server)."""

    server: asyncio.Server | None = None
    connections: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def start_canary() -> Canary:
    """A canary on 127.0.0.1: any connection at all is a failure."""
    return await Canary("127.0.0.1").start()


async def start_drip_server() -> TcpFixture:
    """Answers every connection with a status line one byte every ``DRIP_INTERVAL`` seconds."""
    drip = TcpFixture()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        drip.connections += 1
        try:
            for byte in b"HTTP/1.1 200 OK\r\n"[:DRIP_BYTES]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(DRIP_INTERVAL)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    drip.server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return drip
