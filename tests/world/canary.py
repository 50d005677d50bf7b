"""A canary: a listener on a loopback address of its own that must see no connection.

Each threat-model test that proves "nothing reached X" points X at a canary (the proxy's
``resolve_overrides``, Chromium's ``--host-resolver-rules``, or a literal address) and asserts
``canary.connections == 0`` after a later positive event has shown the attempt was made and
answered. The canary accepts, records the peer, answers a tiny HTTP 200 and closes, so a
leak is seen even when the client speaks TLS or WebSocket.

Addresses are drawn from ``127.0.0.0/8`` away from ``127.0.0.1`` (which every other server of
the tests uses), so a hit on the canary cannot be confused with a hit anywhere else; a test
that needs the canary on ``127.0.0.1`` itself (to try its spellings) passes that host.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field

_NEXT = itertools.count((os.getpid() * 7) % 200 + 1)


def fresh_loopback() -> str:
    """A loopback address no other canary of this process uses (127.0.<a>.<b>, a >= 2)."""
    n = next(_NEXT)
    return f"127.0.{2 + (n // 250) % 250}.{1 + n % 250}"


@dataclass(slots=True)
class Canary:
    host: str
    port: int = 0
    peers: list[str] = field(default_factory=list)
    first_bytes: list[bytes] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None

    @property
    def connections(self) -> int:
        return len(self.peers)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> Canary:
        self.server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self.peers.append(f"{peer[0]}:{peer[1]}" if peer else "?")
        try:
            head = await asyncio.wait_for(reader.read(2048), 2)
        except (TimeoutError, ConnectionError):
            head = b""
        self.first_bytes.append(head[:200])
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def report(self) -> str:
        return f"canary {self.netloc} saw {self.connections} connection(s): {self.first_bytes!r}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
