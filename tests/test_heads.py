"""When a proxied response's head leaves (proxy.heads): with the first body bytes when a body is
on its way, at once when the body's length is unknown (it may be a stream that stays quiet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from world.harness import Cobrowse, StartCobrowse
from world.targets import serve_app

from proxy.heads import response_for

TARGET = "stream.test"


async def _writes_of(length_known: bool) -> list[bytes]:
    """What a real aiohttp server writes to its socket, write by write, for a 5-byte body."""
    writes: list[bytes] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        real = transport.write

        def counted(data: bytes | bytearray | memoryview) -> None:
            writes.append(bytes(data))
            real(data)

        transport.write = counted  # type: ignore[method-assign]
        response = response_for(200, "OK", rewritten=False, length_known=length_known)
        response.content_length = 5
        await response.prepare(request)
        await response.write(b"hello")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    runner, port = await serve_app(app)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await reader.read()  # to the end: the server is done writing
        writer.close()
    finally:
        await runner.cleanup()
    return writes


async def test_a_head_held_for_a_body_of_known_length_leaves_in_the_same_write_as_the_body() -> None:
    writes = await _writes_of(length_known=True)
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\nhello")


async def test_a_head_not_held_leaves_in_a_write_of_its_own() -> None:
    writes = await _writes_of(length_known=False)
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n")
    assert b"hello" in writes[1]


class QuietStream:
    """A target whose stream (no declared length) sends its head, then nothing until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def handler(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await self.release.wait()
        await response.write(b"data: late\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def quiet() -> AsyncIterator[tuple[QuietStream, int]]:
    stream = QuietStream()
    app = web.Application()
    app.router.add_get("/events", stream.handler)
    runner, port = await serve_app(app)
    try:
        yield stream, port
    finally:
        stream.release.set()
        await runner.cleanup()


async def test_a_quiet_stream_of_unknown_length_shows_its_head_through_the_proxy_before_any_body(
        start_server: StartCobrowse, quiet: tuple[QuietStream, int]) -> None:
    stream, port = quiet
    server: Cobrowse = await start_server(resolve_overrides={f"{TARGET}:80": ("127.0.0.1", port)})
    created = await server.create_session(f"http://{TARGET}/events")
    await server.redeem(created["leader_url"])
    url = server.proxy_url(created["id"], TARGET, "/events")
    host = url.split("//", 1)[1].split("/", 1)[0]
    cookie = "; ".join(f"{k}={v}" for k, v in server.cookies.items())
    async with asyncio.timeout(10), server.client.get(f"http://127.0.0.1:{server.port}/events",
                                                      headers={"Host": host, "Cookie": cookie}) as resp:
        # The head is here while the target still holds its first bytes back.
        assert resp.status == 200 and not stream.release.is_set()
        stream.release.set()
        assert await resp.read() == b"data: late\n\n"
