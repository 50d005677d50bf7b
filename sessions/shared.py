"""State that several server processes share: the seam under the relay, the response store and
the rest of a session's server-side bookkeeping (``Shared``), and its in-process backend.

``Shared`` is a small key-value space with what those parts need and nothing more:
- ``transact(key, change)``: an atomic read-modify-write of one text value. ``change(old)`` gives
  back a ``Write`` (or None: nothing to write) and a result; the ``Write`` sets or deletes the value,
  appends items to lists (each trimmed to its last ``keep``) and publishes messages, all in one
  transaction, so the messages successive transactions on one key publish arrive in that order;
- plain values (``get``/``put``/``delete``, optional time to live), counters (``incr``), lists
  (``items``), byte strings that grow (``append``/``read``/``length``: response bodies);
- ``publish``/``subscribe``: fire-and-forget messages on named channels; a handler runs in the event
  loop, in publish order, for every message published after its subscription was made.

Invariants: ``change`` may run more than once (a backend that retries on conflict) and must not
await, keep its argument or have effects; every value is text (or bytes for ``append``) as a
remote backend keeps it, so what a caller reads is always its own copy. Names are plain; a
backend adds its namespace. Any operation may raise ``SharedUnavailable`` (the backing server
cannot be reached in time): callers on a request path let it become a 503.

``MemoryShared`` is the default backend: one process, dicts, nothing to set up; an expired value
goes when it is next read, or at the next sweep (at most every ``SWEEP_EVERY`` seconds, made by a
write with a time to live), so values nobody reads again do not pile up. Its handlers run
from the loop (``call_soon``), never inside ``publish``, as a remote backend's would.
Wall-clock time (``time.time()``) only in values shared between processes: each has its own
monotonic clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, Protocol, TypeVar

T = TypeVar("T")
Handler = Callable[[str], None]


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # ``Write.value``: leave the value as it is
SWEEP_EVERY: Final = 10.0  # seconds between MemoryShared's sweeps of expired values


class SharedUnavailable(Exception):
    """The shared state cannot be reached (its server is down or did not answer in time); the
    message is fit to show (no password)."""


@dataclass(frozen=True, slots=True)
class Push:
    """Items appended to the list ``key``, which then keeps only its last ``keep`` items."""

    key: str
    items: tuple[str, ...]
    keep: int


@dataclass(frozen=True, slots=True)
class Write:
    """What a ``transact`` writes: the value (``KEEP``, None to delete, or new text, kept for
    ``ttl`` seconds if given), list appends and messages to publish, all in one transaction."""

    value: str | _Keep | None = KEEP
    push: tuple[Push, ...] = ()
    publish: tuple[tuple[str, str], ...] = ()
    ttl: float | None = None


class Subscription(Protocol):
    async def close(self) -> None: ...


class Shared(Protocol):
    async def transact(self, key: str, change: Callable[[str | None], tuple[Write | None, T]]) -> T: ...

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float | None = None) -> None: ...

    async def put_new(self, key: str, value: str, ttl: float | None = None) -> bool:
        """Set ``key`` only if it has no value; whether it was set."""
        ...

    async def delete(self, *keys: str) -> None: ...

    async def incr(self, key: str, by: int = 1, ttl: float | None = None) -> int:
        """Add ``by`` to the counter (0 when absent) and give the new value; ``ttl`` is set when
        the counter is created."""
        ...

    async def items(self, key: str) -> list[str]: ...

    async def append(self, key: str, data: bytes) -> int:
        """Append to a byte string; its new length."""
        ...

    async def read(self, key: str, start: int = 0, end: int = -1) -> bytes:
        """Bytes ``start..end`` (inclusive; -1: to the end), b"" when absent."""
        ...

    async def length(self, key: str) -> int: ...

    async def publish(self, channel: str, message: str) -> None: ...

    async def subscribe(self, channel: str, handler: Handler) -> Subscription: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Held:
    value: str | bytearray | list[str] | int
    until: float | None = None


class _MemorySubscription:
    def __init__(self, shared: MemoryShared, channel: str, handler: Handler) -> None:
        self._shared, self.channel, self.handler = shared, channel, handler

    async def close(self) -> None:
        self._shared._unsubscribe(self)


class MemoryShared:
    """``Shared`` in this process (see the module's docstring); ``clock`` gives wall-clock time
    for times to live."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._values: dict[str, _Held] = {}
        self._subscribers: dict[str, list[_MemorySubscription]] = {}
        self._clock = clock
        self._next_sweep = 0.0

    def _live(self, key: str) -> _Held | None:
        held = self._values.get(key)
        if held is not None and held.until is not None and held.until <= self._clock():
            del self._values[key]
            return None
        return held

    def _until(self, ttl: float | None) -> float | None:
        if ttl is None:
            return None
        now = self._clock()
        if now >= self._next_sweep:  # keys nobody reads again go too: memory stays bounded by the ttls
            self._next_sweep = now + SWEEP_EVERY
            self._values = {k: v for k, v in self._values.items() if v.until is None or v.until > now}
        return now + ttl

    def _text(self, key: str) -> str | None:
        held = self._live(key)
        if held is None:
            return None
        if not isinstance(held.value, str):
            raise TypeError(f"{key!r} holds no text value")
        return held.value

    async def transact(self, key: str, change: Callable[[str | None], tuple[Write | None, T]]) -> T:
        write, result = change(self._text(key))
        if write is not None:
            self._apply(key, write)
        return result

    def _apply(self, key: str, write: Write) -> None:
        if write.value is None:
            self._values.pop(key, None)
        elif isinstance(write.value, str):
            self._values[key] = _Held(write.value, self._until(write.ttl))
        for push in write.push:
            held = self._live(push.key)
            if held is None or not isinstance(held.value, list):
                held = self._values[push.key] = _Held([])
            items = held.value
            assert isinstance(items, list)
            items.extend(push.items)  # in place: a list of 2,000 items is not copied per message
            if len(items) > max(push.keep, 0):
                del items[:len(items) - max(push.keep, 0)]
        for channel, message in write.publish:
            self._deliver(channel, message)

    async def get(self, key: str) -> str | None:
        return self._text(key)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        self._values[key] = _Held(value, self._until(ttl))

    async def put_new(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._values[key] = _Held(value, self._until(ttl))
        return True

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def incr(self, key: str, by: int = 1, ttl: float | None = None) -> int:
        held = self._live(key)
        if held is None:
            held = self._values[key] = _Held(0, self._until(ttl))
        if not isinstance(held.value, int):
            raise TypeError(f"{key!r} holds no counter")
        held.value += by
        return held.value

    async def items(self, key: str) -> list[str]:
        held = self._live(key)
        return list(held.value) if held is not None and isinstance(held.value, list) else []

    async def append(self, key: str, data: bytes) -> int:
        held = self._live(key)
        if held is None or not isinstance(held.value, bytearray):
            held = self._values[key] = _Held(bytearray(), held.until if held is not None else None)
        body = held.value
        assert isinstance(body, bytearray)
        body += data  # in place: appending a large body piece by piece stays linear
        return len(body)

    async def read(self, key: str, start: int = 0, end: int = -1) -> bytes:
        held = self._live(key)
        data = held.value if held is not None and isinstance(held.value, bytearray) else bytearray()
        return bytes(data[start:] if end == -1 else data[start:end + 1])

    async def length(self, key: str) -> int:
        held = self._live(key)
        return len(held.value) if held is not None and isinstance(held.value, bytearray) else 0

    async def publish(self, channel: str, message: str) -> None:
        self._deliver(channel, message)

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        sub = _MemorySubscription(self, channel, handler)
        self._subscribers.setdefault(channel, []).append(sub)
        return sub

    def _unsubscribe(self, sub: _MemorySubscription) -> None:
        subs = self._subscribers.get(sub.channel, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subscribers.pop(sub.channel, None)

    def _deliver(self, channel: str, message: str) -> None:
        subs = self._subscribers.get(channel)
        if not subs:
            return
        loop = asyncio.get_running_loop()
        for sub in list(subs):
            loop.call_soon(_guarded, sub, message)

    async def close(self) -> None:
        self._values.clear()
        self._subscribers.clear()


def _guarded(sub: _MemorySubscription, message: str) -> None:
    # A subscription closed after the message was queued no longer hears it.
    if sub in sub._shared._subscribers.get(sub.channel, ()):
        sub.handler(message)

