"""A byte-level counting forwarder: one ``Hit`` per HTTP request that reaches the app behind it.

It copies bytes both ways unchanged, reading only the requests' framing (head, then a
``Content-Length`` or chunked body) so that each request head is recorded before it is passed
on. An HTTP-level forwarder (an aiohttp app, like ``world.front.start_counting_front``)
would re-frame the responses: aiohttp adds ``Content-Type: application/octet-stream`` to a
response that has none, and Chromium then downloads it where the real app shows a page, so
the compat suite would test the forwarder, not the app. After a request that asks for an
``Upgrade`` (a WebSocket), the connection is copied through without further parsing.
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
        back = asyncio.create_task(_copy(up_reader, writer))
        self.tasks.add(back)
        back.add_done_callback(self.tasks.discard)
        try:
            await self._requests(reader, up_writer, str(peer[0]) if peer else "")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                up_writer.write_eof()
            await back
            up_writer.close()
            writer.close()
            self.tasks.discard(task)

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter, peer: str) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line))
            named = {k.lower(): v for k, v in headers}
            parts = urlsplit(target)
            self.log.add(Hit(server=self.name, host=named.get("host", ""), method=method,
                             path=parts.path, query=parts.query, headers=headers, peer=peer))
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


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
