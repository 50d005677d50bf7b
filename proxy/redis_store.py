"""The session store on Redis (``--store redis://...``): ``sessions.store.SessionStore`` kept in a
Redis server that several cobrowse processes share.

Keys, all under one namespace (``cobrowse:`` by default), values JSON text:
- ``session:<id>``: the session (``sessions.store.encode``);
- ``jar:<id>``: its cookie jar (``CookieJar.to_records``);
- ``index``: a sorted set of session ids scored by ``created_at``; members of equal score sort
  by id, so walking it from the top is the listing's order, newest first (``sessions.listing``);
- ``ends``: a sorted set of session ids scored by when they ended (``ended_at``, else
  ``expires_at``): ``purge`` reads only the sessions that may have ended before its cutoff;
- ``idem:<key>``: an idempotency entry ``{"fingerprint", "at", "body"}`` made with SET NX and
  expiring after the ledger's ``pending_ttl`` (unsettled) or ``ttl`` (settled).

Invariants: ``update`` and ``with_jar`` are optimistic transactions (WATCH, read, apply, MULTI/EXEC),
retried on conflict at most ``MAX_RETRIES`` times (then ``StoreConflict``): no update is lost
to a concurrent one, and the function may run more than once (as the protocol allows). A
function that changes nothing writes nothing. The idempotency rules are ``sessions.idempotency``'s,
judged against the ``now`` the caller passes, as the memory ledger judges them.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import WatchError

from sessions.cookies import CookieJar
from sessions.idempotency import Claim, Fingerprint, Ledger, Outcome
from sessions.lifecycle import ended_at, ended_before
from sessions.listing import Page, SessionQuery, matches, page
from sessions.model import Session
from sessions.store import decode, encode

T = TypeVar("T")

MAX_RETRIES: Final = 64
BACKOFF_FIRST: Final = 0.0005  # seconds: the first retry's longest wait, doubled per loss
BACKOFF_CAP: Final = 0.05
LIST_BATCH: Final = 200
SCHEMES: Final = ("redis", "rediss", "unix")
_INF: Final = float("inf")
_SLACK: Final = 1e-6

# Delete an idempotency entry only while it holds exactly the value read (a stale one), so a
# fresh claim made meanwhile by another process is kept.
_DELETE_IF_SAME: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Give up an unsettled claim; a settled one stays.
_RELEASE: Final = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['body'] == cjson.null then return redis.call('DEL', KEYS[1]) end
return 0
"""


class StoreConflict(Exception):
    """An update kept losing to concurrent ones (``MAX_RETRIES`` tries)."""


def redacted(url: str) -> str:
    """``url`` without its password, fit to print (``redis://user:***@host:6379/0``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


class RedisStore:
    """``SessionStore`` on a Redis server (see the module's docstring for the keys); ``client``
    answers text (``decode_responses=True``), as ``from_url`` makes it."""

    def __init__(self, client: Redis, namespace: str = "cobrowse:", idempotency: Ledger | None = None,
                 forget_on_close: bool = False) -> None:
        self._redis = client
        self._ns = namespace
        self.where = "redis"  # the server, fit to print (``from_url`` names it, without a password)
        rules = idempotency if idempotency is not None else Ledger()
        self._ttl, self._pending_ttl = rules.ttl, rules.pending_ttl
        self._forget_on_close = forget_on_close
        self._jitter = random.Random()  # retry waits only: nothing secret
        self._delete_if_same = client.register_script(_DELETE_IF_SAME)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, namespace: str = "cobrowse:", forget_on_close: bool = False,
                 **options: Any) -> RedisStore:
        """A store on the server ``url`` names (``redis://[user:password@]host:port/db``, ``rediss://``
        for TLS); ``forget_on_close`` deletes the namespace's keys on ``close`` (tests, benchmarks);
        ``options`` go to the client (e.g. ``socket_connect_timeout``)."""
        if urlsplit(url).scheme not in SCHEMES:
            raise ValueError(f"store {redacted(url)!r}: expected memory or redis://host:port/db (or rediss://)")
        store = cls(Redis.from_url(url, decode_responses=True, **options), namespace, forget_on_close=forget_on_close)
        store.where = redacted(url)
        return store

    @property
    def namespace(self) -> str:
        return self._ns

    def binary_client(self, **options: Any) -> Redis:
        """A client of the same server that answers bytes (for ``proxy.redis_shared``); ``options``
        override the connection's settings (e.g. ``socket_timeout``)."""
        pool = self._redis.connection_pool
        return Redis(connection_pool=ConnectionPool(
            connection_class=pool.connection_class,
            **{**pool.connection_kwargs, **options, "decode_responses": False}))

    async def ping(self) -> None:
        """Raise (``redis.exceptions.RedisError`` or ``OSError``) unless the server answers."""
        await self._redis.ping()

    def _key(self, kind: str, name: str = "") -> str:
        return f"{self._ns}{kind}:{name}" if name else f"{self._ns}{kind}"

    # -- sessions -------------------------------------------------------------------------

    async def add(self, session: Session) -> None:
        async with self._redis.pipeline(transaction=True) as tx:
            tx.set(self._key("session", session.id), encode(session))
            tx.delete(self._key("jar", session.id))
            tx.zadd(self._key("index"), {session.id: session.created_at})
            tx.zadd(self._key("ends"), {session.id: ended_at(session)})
            await tx.execute()

    async def get(self, session_id: str) -> Session | None:
        text = await self._redis.get(self._key("session", session_id))
        return None if text is None else decode(text)

    async def update(self, session_id: str, change: Callable[[Session], T]) -> T | None:
        key = self._key("session", session_id)

        def write(tx: Any, text: str | None) -> Callable[[], T | None]:
            if text is None:
                return lambda: None
            session = decode(text)
            result = change(session)
            after = encode(session)
            if after != text:
                tx.multi()
                tx.set(key, after)
                tx.zadd(self._key("ends"), {session_id: ended_at(session)})
            return lambda: result

        result: T | None = await self._transact(key, write)
        return result

    async def with_jar(self, session_id: str, use: Callable[[CookieJar], T]) -> T:
        key = self._key("jar", session_id)

        def write(tx: Any, text: str | None) -> Callable[[], T]:
            before = [] if text is None else json.loads(text)
            jar = CookieJar.from_records(before)
            result = use(jar)
            after = jar.to_records()
            if after != before:
                tx.multi()
                tx.set(key, json.dumps(after, separators=(",", ":")))
            return lambda: result

        result: T = await self._transact(key, write)
        return result

    async def _transact(self, key: str, write: Callable[[Any, str | None], Callable[[], Any]]) -> Any:
        """Run ``write(pipeline, value or None)`` under WATCH ``key`` until EXEC succeeds (bounded);
        ``write`` queues its commands after ``pipeline.multi()``, or none when nothing changed,
        and gives back how to read its result."""
        for attempt in range(MAX_RETRIES):
            async with self._redis.pipeline(transaction=True) as tx:
                await tx.watch(key)
                answer = write(tx, _text(await tx.get(key)))
                try:
                    if tx.explicit_transaction:
                        await tx.execute()
                    return answer()
                except WatchError:
                    pass
            # Lost to a concurrent write: wait a random while, growing, so writers in lockstep part
            # (without it two tasks on a loaded machine lost to each other 64 times in a row).
            await asyncio.sleep(self._jitter.uniform(0, min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** attempt)))
        raise StoreConflict(f"{key}: {MAX_RETRIES} concurrent updates won over this one")

    async def drop_jar(self, session_id: str) -> None:
        await self._redis.delete(self._key("jar", session_id))

    async def list(self, query: SessionQuery, now: float) -> Page:
        """Walk the index from the top (below the cursor, within the creation window) in
        batches until ``limit + 1`` sessions match; ``sessions.listing.page`` cuts the page."""
        # A score window that holds every match (``matches`` compares to the microsecond).
        top = min(query.below[0] if query.below is not None else _INF,
                  query.created_before + _SLACK if query.created_before is not None else _INF)
        bottom = query.created_after - _SLACK if query.created_after is not None else -_INF
        found: list[Session] = []
        offset = 0
        while len(found) <= query.limit:
            ids = _strings(await self._redis.zrange(self._key("index"), top, bottom, desc=True, byscore=True,
                                                    offset=offset, num=LIST_BATCH))
            if not ids:
                break
            offset += len(ids)
            texts: list[Any] = await self._redis.mget([self._key("session", i) for i in ids])
            found.extend(s for s in map(decode, filter(None, texts)) if matches(query, s, now))
        return page(query, found, now)

    # -- idempotency ----------------------------------------------------------------------

    async def claim_idempotency(self, key: str, print_: Fingerprint, now: float) -> Claim:
        name = self._key("idem", key)
        fresh = json.dumps({"fingerprint": print_, "at": now, "body": None})
        for _ in range(MAX_RETRIES):
            if await self._redis.set(name, fresh, nx=True, px=_ms(self._pending_ttl)):
                return Claim(Outcome.NEW)
            text = await self._redis.get(name)
            if text is None:
                continue  # expired meanwhile
            entry = json.loads(text)
            if now - entry["at"] > (self._ttl if entry["body"] is not None else self._pending_ttl):
                await self._delete_if_same(keys=[name], args=[text])
                continue
            return _judge(entry, print_)
        raise StoreConflict(f"idempotency key {key!r}: {MAX_RETRIES} concurrent claims won over this one")

    async def settle_idempotency(self, key: str, body: str, now: float) -> None:
        name = self._key("idem", key)
        text = await self._redis.get(name)
        if text is None:
            return
        entry = {**json.loads(text), "at": now, "body": body}
        await self._redis.set(name, json.dumps(entry), xx=True, px=_ms(self._ttl))

    async def release_idempotency(self, key: str) -> None:
        await self._release(keys=[self._key("idem", key)])

    # -- forgetting -----------------------------------------------------------------------

    async def purge(self, cutoff: float, now: float) -> tuple[str, ...]:
        ids = _strings(await self._redis.zrange(self._key("ends"), "-inf", f"({cutoff}", byscore=True))
        if not ids:
            return ()
        texts: list[Any] = await self._redis.mget([self._key("session", i) for i in ids])
        dead = tuple(i for i, text in zip(ids, texts, strict=True)
                     if text is not None and ended_before(decode(text), cutoff, now))
        strays = [i for i, text in zip(ids, texts, strict=True) if text is None]  # indexed, gone
        gone = [*dead, *strays]
        if gone:
            async with self._redis.pipeline(transaction=True) as tx:
                tx.delete(*[self._key(kind, i) for i in gone for kind in ("session", "jar")])
                tx.zrem(self._key("index"), *gone)
                tx.zrem(self._key("ends"), *gone)
                await tx.execute()
        return dead

    async def close(self) -> None:
        if self._forget_on_close:
            keys = [k async for k in self._redis.scan_iter(match=self._ns + "*", count=500)]
            for start in range(0, len(keys), 500):
                await self._redis.delete(*keys[start:start + 500])
        await self._redis.aclose()


def _judge(entry: dict[str, Any], print_: Fingerprint) -> Claim:
    """A live entry's answer to a claim with ``print_`` (as ``Ledger.claim`` judges it)."""
    held: Fingerprint = entry["fingerprint"]
    if held != print_:
        return Claim(Outcome.CLASH, differing=tuple(sorted(n for n in {*held, *print_}
                                                           if held.get(n) != print_.get(n))))
    if entry["body"] is None:
        return Claim(Outcome.PENDING)
    return Claim(Outcome.REPLAY, body=str(entry["body"]))


def _text(value: Any) -> str | None:
    """A reply as text (the client decodes replies: ``decode_responses``)."""
    return None if value is None else str(value)


def _strings(values: Any) -> list[str]:
    return [str(v) for v in values]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
