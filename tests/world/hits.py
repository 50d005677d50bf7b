"""Hit logs: what each fixture server received, so tests can prove who fetched what.

Every fixture app is built with ``hit_middleware(log, name)``; it appends one ``Hit`` per request
before the handler runs (so a request that times out or is refused mid-way is still recorded).
Headers are kept as a tuple of pairs: repeated headers (``Cookie``) stay visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as a fixture server saw it."""

    server: str
    host: str
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    peer: str

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def cookie_names(self) -> set[str]:
        names: set[str] = set()
        for key, value in self.headers:
            if key.lower() != "cookie":
                continue
            for part in value.split(";"):
                name = part.split("=", 1)[0].strip()
                if name:
                    names.add(name)
        return names


@dataclass(slots=True)
class HitLog:
    """All hits of a world, in arrival order (one event loop, so appends never race)."""

    hits: list[Hit] = field(default_factory=list)
    _waiters: list[asyncio.Event] = field(default_factory=list)

    def add(self, hit: Hit) -> None:
        self.hits.append(hit)
        for waiter in self._waiters:
            waiter.set()
        self._waiters.clear()

    def retract(self, hit: Hit) -> None:
        """Take back a hit that turned out never to reach its server (its latest copy)."""
        for at in range(len(self.hits) - 1, -1, -1):
            if self.hits[at] is hit:
                del self.hits[at]
                return

    async def wait_for(self, found: Callable[[HitLog], bool], what: str, seconds: float = 15.0) -> None:
        """Return once ``found(self)`` holds, checked again at every new hit (no polling);
        AssertionError naming ``what`` if it does not within ``seconds``."""
        async def arrived() -> None:
            while not found(self):
                arrival = asyncio.Event()
                self._waiters.append(arrival)
                await arrival.wait()

        try:
            await asyncio.wait_for(arrived(), seconds)
        except TimeoutError:
            raise AssertionError(f"never seen: {what}") from None

    async def first(self, match: Callable[[Hit], bool], what: str, seconds: float = 15.0) -> Hit:
        """The first hit that ``match`` accepts, once it has arrived."""
        await self.wait_for(lambda log: any(match(h) for h in log.hits), what, seconds)
        return next(h for h in self.hits if match(h))

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def for_server(self, server: str) -> list[Hit]:
        return [h for h in self.hits if h.server == server]

    def paths(self, server: str) -> set[str]:
        return {h.path for h in self.hits if h.server == server}

    def clear(self) -> None:
        self.hits.clear()


def hit_middleware(log: HitLog, server: str) -> Middleware:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        log.add(
            Hit(
                server=server,
                host=request.headers.get("Host", ""),
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=tuple(request.headers.items()),
                peer=str(peer[0]) if peer else "",
            )
        )
        return await handler(request)

    return record
