"""Target WebSockets under fetch once: the driver's real socket fanned out to followers on any
server process, through the shared state (``sessions.shared``).

The driver's side (``Channel``) turns each message into one transaction on the socket's counter:
the message gets the next sequence number, is pushed onto the socket's backlog list (its last
``ws_backlog`` messages) and published on the socket's channel, all at once. Messages are what
the target sent (followers receive them) and what the driver sent (followers' ``SentLog`` for
``sessions.wspairing``), in the order the driver's process saw them, and finally an end mark.

A follower's side (``Subscription``) subscribes to the channel first, then reads the backlog:
live messages heard meanwhile are held back and, like every message, taken only when their
number is above the last one taken, so nothing is missed or doubled. A follower that falls more
than ``ws_queue`` messages behind is dropped rather than buffered without bound.

Names, under the session's response store name: ``<store>:ws:<id>`` (the backlog list, and
the channel) and ``<store>:wsn:<id>`` (the counter). Binary data travels as base64.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sessions.matching import RequestKey
from sessions.shared import Push, Shared, Write
from sessions.wspairing import PairingLimits, SentLog

if TYPE_CHECKING:
    from sessions.responses import ResponseLimits

# Message kinds: from the target (text, binary), sent by the driver (text, binary), the end.
FROM_TARGET = {True: "t", False: "b"}
SENT = {True: "s", False: "S"}
END = "e"
_SENT_LIMIT = PairingLimits().log_bytes  # a larger frame is not logged by ``SentLog`` anyway


def _encode(data: str | bytes) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode("ascii")


def _decode(kind: str, payload: str) -> str | bytes:
    return payload if kind in ("t", "s") else base64.b64decode(payload)


class Channel:
    """The driver's side of one target socket."""

    def __init__(self, shared: Shared, store: str, socket_id: str, key: RequestKey, protocol: str,
                 keep: int) -> None:
        self._shared, self._store, self.id = shared, store, socket_id
        self.key, self.protocol, self._keep = key, protocol, keep

    @staticmethod
    def names(store: str, socket_id: str) -> tuple[str, str]:
        """The socket's backlog list (also its channel's name) and counter."""
        return f"{store}:ws:{socket_id}", f"{store}:wsn:{socket_id}"

    async def publish(self, is_text: bool, data: str | bytes) -> None:
        """The target sent ``data`` on the driver's socket."""
        await _emit(self._shared, self._store, self.id, FROM_TARGET[is_text], _encode(data), self._keep)

    async def record(self, is_text: bool, data: str | bytes) -> None:
        """The driver sent ``data`` to the target (followers pair their twins with it)."""
        if len(data) <= _SENT_LIMIT:
            await _emit(self._shared, self._store, self.id, SENT[is_text], _encode(data), self._keep)

    async def close(self) -> None:
        await self.end(self._shared, self._store, self.id, self._keep)

    @staticmethod
    async def end(shared: Shared, store: str, socket_id: str, keep: int) -> None:
        await _emit(shared, store, socket_id, END, "", keep)


async def _emit(shared: Shared, store: str, socket_id: str, kind: str, payload: str, keep: int) -> None:
    backlog, counter = Channel.names(store, socket_id)

    def change(old: str | None) -> tuple[Write, None]:
        seq = int(old or 0) + 1
        message = json.dumps([seq, kind, payload])
        return Write(value=str(seq), push=(Push(backlog, (message,), keep),),
                     publish=((backlog, message),)), None

    await shared.transact(counter, change)


def open_on(shared: Shared, store: str, key: RequestKey, protocol: str, limits: ResponseLimits) -> Channel:
    return Channel(shared, store, secrets.token_hex(8), key, protocol, limits.ws_backlog)


class Subscription:
    """One follower socket's copy of a driver's target socket."""

    def __init__(self, protocol: str, limits: ResponseLimits) -> None:
        self.protocol = protocol  # the sub-protocol the driver's socket agreed with the target
        self.queue: asyncio.Queue[tuple[bool, str | bytes] | None] = asyncio.Queue(
            limits.ws_queue + limits.ws_backlog + 1)
        self.sent = SentLog()  # what the driver sent, as this follower's pairing reads it
        self.dropped = False
        self._last = 0
        self._early: list[str] | None = []  # heard before the backlog was read
        self._subscription: Any = None

    def _heard(self, message: str) -> None:
        if self._early is not None:
            self._early.append(message)
        else:
            self._take(message)

    def _take(self, message: str) -> None:
        seq, kind, payload = json.loads(message)
        if seq <= self._last or self.dropped:
            return
        self._last = seq
        if kind == END:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            self.dropped = True  # a full queue ends when drained
        elif kind in SENT.values():
            self.sent.record(kind == SENT[True], _decode(kind, payload))
        else:
            try:
                self.queue.put_nowait((kind == FROM_TARGET[True], _decode(kind, payload)))
            except asyncio.QueueFull:
                self.dropped = True

    async def messages(self) -> AsyncIterator[tuple[bool, str | bytes]]:
        """(is_text, data) pairs until the driver's socket closes or this one falls behind."""
        while not (self.dropped and self.queue.empty()):
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def cancel(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.close()


async def attach_to(shared: Shared, store: str, socket_id: str, protocol: str,
                    limits: ResponseLimits) -> Subscription:
    """Follow the driver's socket ``socket_id``: what it had (the backlog), then what comes."""
    backlog, _ = Channel.names(store, socket_id)
    sub = Subscription(protocol, limits)
    sub._subscription = await shared.subscribe(backlog, sub._heard)
    try:
        for message in await shared.items(backlog):
            sub._take(message)
    except BaseException:
        await sub.cancel()
        raise
    early, sub._early = sub._early or [], None
    for message in early:
        sub._take(message)
    return sub
