"""``sessions.shared.Shared`` on Redis: the state several cobrowse processes share.

Keys live under the store's namespace plus ``x:`` (``cobrowse:x:<name>``), channels under the
namespace plus ``c:``; values are Redis strings (text as UTF-8, bodies as bytes), lists and
counters. ``transact`` is an optimistic transaction (WATCH, GET, MULTI, the write's SET/DEL,
RPUSH+LTRIM and PUBLISH, EXEC), retried on conflict with a growing random wait, as
``proxy.redis_store`` does.

One pub/sub connection per process carries every channel: ``subscribe`` returns once Redis has
confirmed the subscription (so a message published after it is heard), and a reader task hands
each message to the channel's handlers in order. When the connection breaks, the reader opens a
new one and subscribes every channel again; messages published meanwhile are lost (pub/sub keeps
nothing), which is why every user of a channel also re-reads the state it announces.

Every Redis or socket error, and every operation that takes longer than ``timeout`` seconds,
becomes ``SharedUnavailable`` with a message naming the server (without its password).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, WatchError

from proxy.redis_store import BACKOFF_CAP, BACKOFF_FIRST, MAX_RETRIES, StoreConflict, _ms, redacted
from sessions.shared import KEEP, Handler, SharedUnavailable, Subscription, Write

T = TypeVar("T")
log = logging.getLogger("cobrowse.store")

TIMEOUT: Final = 2.0  # seconds an operation may take before the store counts as unreachable (a refused
# connection is said at once; 2 s leaves room for a loaded machine's scheduling delays)
CONNECT_TIMEOUT: Final = 1.0
RECONNECT_FIRST: Final = 0.05
RECONNECT_CAP: Final = 1.0


class _RedisSubscription:
    def __init__(self, shared: RedisShared, channel: str, handler: Handler) -> None:
        self._shared, self.channel, self.handler = shared, channel, handler

    async def close(self) -> None:
        await self._shared._unsubscribe(self)


class RedisShared:
    """``Shared`` on a Redis server; ``client`` must answer bytes (``decode_responses=False``)."""

    def __init__(self, client: Redis, namespace: str = "cobrowse:", where: str = "redis",
                 timeout: float = TIMEOUT) -> None:
        self._redis = client
        self._keys = f"{namespace}x:"
        self._channels = f"{namespace}c:"
        self._where = where
        self._timeout = timeout
        self._jitter = random.Random()  # retry waits only: nothing secret
        self._handlers: dict[str, list[_RedisSubscription]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, namespace: str = "cobrowse:", **options: Any) -> RedisShared:
        options.setdefault("socket_timeout", TIMEOUT)
        options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT)
        return cls(Redis.from_url(url, decode_responses=False, **options), namespace, redacted(url))

    def _key(self, name: str) -> str:
        return self._keys + name

    @contextlib.asynccontextmanager
    async def _reaching(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except (RedisError, OSError, TimeoutError) as exc:
            if isinstance(exc, WatchError):
                raise
            raise SharedUnavailable(f"the session store ({self._where}) cannot be reached: "
                                    f"{type(exc).__name__}") from exc

    # -- values ---------------------------------------------------------------------------

    async def transact(self, key: str, change: Callable[[str | None], tuple[Write | None, T]]) -> T:
        name = self._key(key)
        for attempt in range(MAX_RETRIES):
            try:
                async with self._reaching(), self._redis.pipeline(transaction=True) as pipe:
                    tx: Any = pipe
                    await tx.watch(name)
                    raw = await tx.get(name)
                    write, result = change(None if raw is None else _text(raw))
                    if write is None:
                        await tx.unwatch()
                        return result
                    tx.multi()
                    self._queue(tx, name, write)
                    await tx.execute()
                    return result
            except WatchError:
                pass
            await asyncio.sleep(self._jitter.uniform(0, min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** attempt)))
        raise StoreConflict(f"{key}: {MAX_RETRIES} concurrent updates won over this one")

    def _queue(self, tx: Any, name: str, write: Write) -> None:
        if write.value is None:
            tx.delete(name)
        elif write.value is not KEEP:
            tx.set(name, write.value.encode("utf-8"), px=_ms(write.ttl) if write.ttl is not None else None)
        for push in write.push:
            target = self._key(push.key)
            if push.items:
                tx.rpush(target, *[item.encode("utf-8") for item in push.items])
            tx.ltrim(target, -push.keep, -1) if push.keep > 0 else tx.delete(target)
        for channel, message in write.publish:
            tx.publish(self._channels + channel, message.encode("utf-8"))

    async def get(self, key: str) -> str | None:
        async with self._reaching():
            raw = await self._redis.get(self._key(key))
        return None if raw is None else _text(raw)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        async with self._reaching():
            await self._redis.set(self._key(key), value.encode("utf-8"), px=_ms(ttl) if ttl is not None else None)

    async def put_new(self, key: str, value: str, ttl: float | None = None) -> bool:
        async with self._reaching():
            done = await self._redis.set(self._key(key), value.encode("utf-8"), nx=True,
                                         px=_ms(ttl) if ttl is not None else None)
        return bool(done)

    async def delete(self, *keys: str) -> None:
        if keys:
            async with self._reaching():
                await self._redis.delete(*[self._key(k) for k in keys])

    async def incr(self, key: str, by: int = 1, ttl: float | None = None) -> int:
        name = self._key(key)
        async with self._reaching(), self._redis.pipeline(transaction=True) as tx:
            tx.incrby(name, by)
            if ttl is not None:
                tx.pexpire(name, _ms(ttl), nx=True)
            replies = await tx.execute()
        return int(replies[0])

    async def items(self, key: str) -> list[str]:
        async with self._reaching():
            raw = await self._redis.lrange(self._key(key), 0, -1)
        return [_text(item) for item in raw]

    async def append(self, key: str, data: bytes) -> int:
        async with self._reaching():
            return int(await self._redis.append(self._key(key), data))

    async def read(self, key: str, start: int = 0, end: int = -1) -> bytes:
        async with self._reaching():
            return _bytes(await self._redis.getrange(self._key(key), start, end))

    async def length(self, key: str) -> int:
        async with self._reaching():
            return int(await self._redis.strlen(self._key(key)))

    # -- messages -------------------------------------------------------------------------

    async def publish(self, channel: str, message: str) -> None:
        async with self._reaching():
            await self._redis.publish(self._channels + channel, message.encode("utf-8"))

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        sub = _RedisSubscription(self, channel, handler)
        async with self._lock:
            subs = self._handlers.setdefault(channel, [])
            subs.append(sub)
            if len(subs) == 1:
                try:
                    await self._listen(channel)
                except BaseException:
                    self._handlers.pop(channel, None)
                    raise
        return sub

    async def _listen(self, channel: str) -> None:
        """Subscribe the process's connection to ``channel`` and wait for Redis to confirm it."""
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
        confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        async with self._reaching():
            await self._pubsub.subscribe(self._channels + channel)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read())
        try:
            async with self._reaching():
                await confirmed
        finally:
            self._confirmed.pop(channel, None)

    async def _unsubscribe(self, sub: _RedisSubscription) -> None:
        async with self._lock:
            subs = self._handlers.get(sub.channel, [])
            if sub in subs:
                subs.remove(sub)
            if subs:
                return
            self._handlers.pop(sub.channel, None)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self._channels + sub.channel)

    async def _read(self) -> None:
        """Hand messages to handlers; after a broken connection, resubscribe every channel."""
        failures = 0
        while self._handlers or self._confirmed:
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                message = await pubsub.get_message(timeout=self._timeout)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError) as exc:  # RuntimeError: no connection after a failed resubscribe
                failures += 1
                if failures == 1:
                    log.warning("store.pubsub_lost where=%s error=%s", self._where, type(exc).__name__)
                await asyncio.sleep(self._jitter.uniform(0, min(RECONNECT_CAP, RECONNECT_FIRST * 2 ** failures)))
                await self._resubscribe()
                continue
            if failures:
                log.info("store.pubsub_back where=%s after=%d", self._where, failures)
                failures = 0
            if message is not None:
                self._hand_out(message)

    async def _resubscribe(self) -> None:
        old: Any = self._pubsub
        self._pubsub = self._redis.pubsub()
        if old is not None:
            with contextlib.suppress(RedisError, OSError):
                await old.aclose()
        channels = [self._channels + c for c in self._handlers]
        if channels:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(*channels)

    def _hand_out(self, message: dict[str, Any]) -> None:
        channel = _text(message["channel"])[len(self._channels):]
        if message["type"] == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if message["type"] != "message":
            return
        text = _text(message["data"])
        for sub in list(self._handlers.get(channel, ())):
            try:
                sub.handler(text)
            except Exception:  # one handler's bug must not stop the others' messages
                log.exception("store.handler_failed channel=%s", channel)

    async def close(self) -> None:
        self._handlers.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._reader
        pubsub: Any = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
