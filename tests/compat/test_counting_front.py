"""The compat suite's counting front counts what reached the app: a request the app closed its
kept-alive connection on, unanswered, is not a hit (its resend on a new connection is).

The app here is a raw asyncio server: it answers each connection's first request, keeping the
connection alive, then closes it idle (as gunicorn does after 2 s) at once; the client sends its
second request on that connection, as a pooled client does in the race, meets the close, and
sends it again on a new connection. Before the front took such hits back, a run's counts
depended on that race (Dash co-browsed: the page's first scripts once more with a follower than
without, when the proxy's pool resent them). A close that is a reset (the app closing a socket
whose new request it had not read) must reach the client as a close too: the front once
swallowed it and left the client waiting for an answer (Dash through the proxy: a script or
``/_dash-dependencies`` unanswered for the proxy's 30 s read timeout, the page never rendered).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator

import pytest
from counting_front import CountingFront, _read
from world.hits import HitLog

pytestmark = pytest.mark.compat


class ClosesWhenIdle:
    """Answers the first request of each connection, then closes the connection unasked.

    ``resets``: the close is a reset, when the next request arrives (its head unread);
    ``drops_left``: instead, once the client has closed its side after the first request, the
    app drops it unanswered (a request aborted by the client: it did reach the app)."""

    def __init__(self, *, resets: bool = False, drops_left: bool = False) -> None:
        self.answered: list[str] = []
        self.received: list[str] = []
        self.resets = resets
        self.drops_left = drops_left
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            self.received.append(head.split(b"\r\n", 1)[0].decode())
            if self.drops_left:
                await reader.read()  # until the client has gone
            else:
                self.answered.append(self.received[-1])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
            if self.resets:
                await reader.read(1)  # the next request's first byte
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
        writer.close()  # the idle kept-alive connection, timed out


@contextlib.asynccontextmanager
async def front_for(app: ClosesWhenIdle) -> AsyncIterator[CountingFront]:
    app.server = await asyncio.start_server(app._handle, "127.0.0.1", 0)
    front = await CountingFront(HitLog(), "idle.test", app.server.sockets[0].getsockname()[1]).start()
    try:
        yield front
    finally:
        await front.close()
        app.server.close()
        await app.server.wait_closed()


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: idle.test\r\n\r\n".encode()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    """``path``'s answer on this connection (b"" when the connection closed unanswered). The
    front must pass the app's close on: a client left waiting fails after ``STUCK_SECONDS``."""
    writer.write(request(path))
    await writer.drain()
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        async with asyncio.timeout(STUCK_SECONDS):
            head = await reader.readuntil(b"\r\n\r\n")
            return head + await reader.readexactly(2)
    return b""


STUCK_SECONDS = 10.0


@pytest.mark.parametrize("resets", [False, True], ids=["closed", "reset"])
async def test_a_request_the_app_closed_its_kept_alive_connection_on_unanswered_is_not_a_hit(resets: bool) -> None:
    app = ClosesWhenIdle(resets=resets)
    async with front_for(app) as front:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        assert (await exchange(reader, writer, "/page")).endswith(b"ok")
        assert await exchange(reader, writer, "/script.js") == b""  # met the close
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        assert (await exchange(reader, writer, "/script.js")).endswith(b"ok")  # the resend
        writer.close()
        await front.log.first(lambda h: h.path == "/script.js", "the resend")
    assert app.answered == ["GET /page HTTP/1.1", "GET /script.js HTTP/1.1"]
    assert [h.path for h in front.log] == ["/page", "/script.js"]


async def test_a_request_the_client_gave_up_on_stays_a_hit() -> None:
    # The client closing first (an aborted fetch) is no sign the app never got the request.
    app = ClosesWhenIdle(drops_left=True)
    async with front_for(app) as front:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        writer.write(request("/slow"))
        await writer.drain()
        await front.log.first(lambda h: h.path == "/slow", "the request")
        writer.write_eof()
        assert await reader.read() == b""  # the app closed too, unanswered
        writer.close()
    assert app.received == ["GET /slow HTTP/1.1"]
    assert [h.path for h in front.log] == ["/slow"]



@pytest.mark.parametrize("broken", [ConnectionResetError, BrokenPipeError], ids=["reset", "broken-pipe"])
async def test_a_broken_app_connection_ends_its_copy_as_a_close(broken: type[ConnectionError]) -> None:
    # The front's write of a request to the closed app can fail first: the app's side then
    # reads as a broken pipe, which once skipped both the take-back and the close it passes on.
    reader = asyncio.StreamReader()
    reader.set_exception(broken())
    assert await _read(reader) == b""
