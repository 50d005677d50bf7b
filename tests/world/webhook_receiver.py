"""A webhook receiver on loopback, as an integrator would write one: a real aiohttp server that
checks every delivery's signature (``sessions.webhook_sign.verify``, the check docs/webhooks.md
shows) and keeps what it accepted.

``start_receiver(fail_first=n)`` answers the first ``n`` deliveries 500 (a receiver that is down
for a moment), then 200. ``requests`` holds every delivery as it arrived (event id, attempt,
status answered, whether the signature verified); ``accepted`` the events it answered 200 to,
once each (a receiver dedupes by event id: delivery is at least once). ``wait_for`` is the
positive fence: it returns once an accepted event matches (``wait_count``: once so many came).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sessions.webhook_sign import HEADER, SignatureError, verify
from world.targets import Served, serve


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    event_type: str
    attempt: int
    answered: int
    verified: bool


@dataclass(slots=True)
class Receiver:
    served: Served
    fail_first: int
    secret: str = ""  # set once the webhook is created (its secret is shown then)
    requests: list[Delivery] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.served.port}/hooks/cobrowse"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, request.headers.get(HEADER, ""), body, now=time.time())
            verified = True
        except SignatureError:
            verified = False
        event = json.loads(body)
        answered = 500 if len(self.requests) < self.fail_first else (200 if verified else 400)
        self.requests.append(Delivery(event["id"], event["type"], int(request.headers["Cobrowse-Delivery-Attempt"]),
                                      answered, verified))
        if answered == 200 and event["id"] not in self._seen:
            self._seen.add(event["id"])
            self.accepted.append(event)
        self._arrived.set()
        return web.Response(status=answered, text="ok" if answered == 200 else "not now")

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str, seconds: float = 20.0) -> None:
        await self._until(lambda: any(match(e) for e in self.accepted), what, seconds)

    async def wait_count(self, count: int, seconds: float = 60.0) -> None:
        """Return once ``count`` events have been accepted."""
        await self._until(lambda: len(self.accepted) >= count, f"{count} events", seconds)

    async def _until(self, done: Callable[[], bool], what: str, seconds: float) -> None:
        async def arrived() -> None:
            while not done():
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(arrived(), seconds)
        except TimeoutError:
            raise AssertionError(f"the receiver never accepted {what}; got {[e['type'] for e in self.accepted]}") \
                from None

    async def close(self) -> None:
        await self.served.close()


async def start_receiver(fail_first: int = 0) -> Receiver:
    app = web.Application()
    holder: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        return await holder[0].handle(request)

    app.router.add_post("/hooks/cobrowse", handle)
    receiver = Receiver(await serve(app), fail_first)
    holder.append(receiver)
    return receiver
