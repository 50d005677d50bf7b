"""A byte-level counting forwarder: one ``Hit`` per HTTP request that reaches the app behind it.

It copies bytes both ways unchanged, reading only the requests' framing (head, then a
``Content-Length`` or chunked body) so that each request head is recorded before it is passed
on. An HTTP-level forwarder (an aiohttp app, like ``world.front.start_counting_front``)
would re-frame the responses: aiohttp adds ``Content-Type: application/octet-stream`` to a
response that has none, and Chromium then downloads it where the real app shows a page, so
the compat suite would test the forwarder, not the app. After a request that asks for an
``Upgrade`` (a WebSocket), the connection is copied through without further parsing.

A request the app closed (or reset) its connection on before sending a byte of answer, while
the client still held the connection open, never reached the app: that is a kept-alive connection the app
timed out just as the request arrived (gunicorn closes idle ones after 2 s), and the client
sends the request again on a new connection, where it is counted. Its hit is taken back
(``HitLog.retract``), so a run's hits do not depend on that race.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from world.hits import Hit, HitLog

_HEAD_LIMIT = 64 * 1024


@dataclass(slots=True)
class CountingFront:
    log: HitLog
    name: str
    target_port: int
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> CountingFront:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.server is not None:
            await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            self.tasks.discard(task)
            return
        peer = writer.get_extra_info("peername")
        exchange = _Exchange()
        back = asyncio.create_task(_copy(up_reader, writer, exchange, self.log))
        self.tasks.add(back)
        back.add_done_callback(self.tasks.discard)
        try:
            await self._requests(reader, up_writer, str(peer[0]) if peer else "", exchange)
        except asyncio.IncompleteReadError:
            exchange.client_done = True  # the client closed its side
        except (OSError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                up_writer.write_eof()
            await back
            up_writer.close()
            writer.close()
            self.tasks.discard(task)

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter, peer: str,
                        exchange: _Exchange) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line))
            named = {k.lower(): v for k, v in headers}
            parts = urlsplit(target)
            hit = Hit(server=self.name, host=named.get("host", ""), method=method,
                      path=parts.path, query=parts.query, headers=headers, peer=peer)
            self.log.add(hit)
            exchange.unanswered = hit
            if exchange.app_closed:  # the app closed before this request could reach it
                self.log.retract(hit)
            up.write(head)
            if "chunked" in named.get("transfer-encoding", "").lower():
                await _copy_chunked(reader, up)
            elif length := int(named.get("content-length", "0") or 0):
                up.write(await reader.readexactly(length))
            await up.drain()
            if "upgrade" in named:
                await _copy(reader, up)
                return


async def _copy_chunked(reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        up.write(line)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        up.write(await reader.readexactly(size + 2))
    while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
        up.write(trailer)
    up.write(b"\r\n")


@dataclass(slots=True)
class _Exchange:
    """One client connection's state shared by its two directions."""

    unanswered: Hit | None = None  # the latest request, until a byte of answer comes back
    app_closed: bool = False  # the app closed its side
    client_done: bool = False  # the client closed its side


async def _read(reader: asyncio.StreamReader) -> bytes:
    """The next bytes; b"" at the end, whether the peer closed its side or the connection broke
    (a reset, or a broken pipe when a write to the closed peer failed first)."""
    try:
        return await reader.read(65536)
    except ConnectionError:
        return b""


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exchange: _Exchange | None = None,
                log: HitLog | None = None) -> None:
    """Bytes from ``reader`` to ``writer`` until EOF; for the app's side (``exchange``), a byte
    of answer settles the pending request, and a close first takes its hit back from ``log``."""
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await _read(reader):
            if exchange is not None:
                exchange.unanswered = None
            writer.write(data)
            await writer.drain()
        if exchange is not None:
            exchange.app_closed = True
            if exchange.unanswered is not None and not exchange.client_done and log is not None:
                log.retract(exchange.unanswered)
        with contextlib.suppress(OSError):
            writer.write_eof()
