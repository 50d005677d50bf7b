"""The driver's response store: fetch once, serve every participant (the waiting room).

One ``ResponseStore`` per session (``ResponseRegistry`` creates them lazily and drops them
when the session ends). The driver's exchanges are recorded as ``Entry``s: the target's
status, reason and headers as received (before any rewriting) and the body, either
*decoded* (types the proxy rewrites: rewritten again for each participant, whose runtime tag
differs) or *raw* (everything else, teed as the driver streams it). Followers are paired with
entries by ``sessions.matching`` (key and order) and wait here, bounded, for an entry that
is not recorded yet.

Invariants and limits:
- An entry is recorded (and matchable) as soon as the driver has the response headers; a
  follower may start reading a raw body while the driver's copy is still arriving.
- One body is held up to ``max_response`` bytes. Past that the entry is marked
  ``too_large``: the driver's own transfer goes on, but followers get a 502 ("too large to
  share") instead of a body.
- All bodies of a session together stay within ``budget`` bytes: the oldest complete
  entries lose their bodies first; the latest document and bodies still arriving are never
  evicted. An evicted entry is still matched (order is kept) but can no longer be served.
- A follower waits at most the time it is given, and at most ``max_waiters`` wait at once.
- Target WebSockets: the driver's socket publishes what the target sends on a ``Channel``;
  followers subscribe (and get a bounded backlog first). A subscriber that falls more than
  ``ws_queue`` messages behind is dropped rather than buffered without bound.

No I/O here: asyncio is used only for its waiting primitives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from sessions.matching import Ledger, RequestKey
from sessions.preflight import PreflightCache
from sessions.wspairing import SentLog

Headers = tuple[tuple[str, str], ...]


# How long a follower's navigation waits for a new driver copy before catching up on the latest.
CATCH_UP_WAIT = 1.5


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    max_response: int = 16 * 1024 * 1024
    budget: int = 128 * 1024 * 1024
    max_waiters: int = 256
    max_entries: int = 50_000
    ws_backlog: int = 1000
    ws_queue: int = 1000


@dataclass(frozen=True, slots=True)
class Head:
    """A target response as received: what every participant's copy is rebuilt from."""

    status: int
    reason: str
    headers: Headers
    url: str  # the real URL the driver asked for

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Failure:
    """The driver's exchange failed: followers get the same clear page at once."""

    status: int
    title: str
    message: str


@dataclass(slots=True, eq=False)
class Entry:
    id: int
    key: RequestKey
    head: Head
    raw: bool  # body as received (streamed) rather than decoded for rewriting
    document: bool
    cacheable: bool  # the driver's browser would not ask again for a while
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    complete: bool = False
    too_large: bool = False
    evicted: bool = False
    failure: Failure | None = None

    @property
    def servable(self) -> bool:
        return self.failure is None and not self.too_large and not self.evicted


_NO_CACHE = ("no-store", "no-cache", "max-age=0")
_NO_COMMIT = frozenset({204, 205})


def commits(head: Head) -> bool:
    """Whether a top-level navigation answered with ``head`` replaces the page (not a redirect,
    an empty answer or a download, after which the browser still shows the page it had)."""
    if head.status in _NO_COMMIT or 300 <= head.status < 400:
        return False
    return not (head.header("Content-Disposition") or "").strip().lower().startswith("attachment")


def browser_would_reuse(head: Head) -> bool:
    """Whether a browser keeps this response fresh (explicitly, or heuristically from
    Last-Modified), so the driver's browser will not fetch it again for a while."""
    if head.status not in (200, 203, 204, 206, 300, 301, 404, 410):
        return False
    control = (head.header("Cache-Control") or "").lower().replace(" ", "")
    if any(token in control for token in _NO_CACHE):
        return False
    if "immutable" in control or "max-age=" in control or "s-maxage=" in control:
        return True
    expires, date = head.header("Expires"), head.header("Date")
    if expires is not None:
        try:
            return parsedate_to_datetime(expires) > parsedate_to_datetime(date or "")
        except (TypeError, ValueError, IndexError):
            return False
    return head.header("Last-Modified") is not None


@dataclass(slots=True, eq=False)
class Subscription:
    """One follower socket's view of a driver's target socket."""

    queue: asyncio.Queue[tuple[bool, str | bytes] | None]
    channel: Channel
    dropped: bool = False

    @property
    def protocol(self) -> str:
        """The sub-protocol the driver's socket agreed with the target."""
        return self.channel.protocol

    def cancel(self) -> None:
        self.channel.unsubscribe(self)

    async def messages(self) -> AsyncIterator[tuple[bool, str | bytes]]:
        """(is_text, data) pairs until the driver's socket closes or this one falls behind."""
        while not (self.dropped and self.queue.empty()):
            item = await self.queue.get()
            if item is None:
                return
            yield item


@dataclass(slots=True, eq=False)
class Channel:
    """What the target sends on the driver's socket, fanned out to followers; ``sent`` logs what the
    driver sends on it (``sessions.wspairing`` pairs followers' sends with it)."""

    key: RequestKey
    limits: ResponseLimits
    protocol: str = ""
    sent: SentLog = field(default_factory=SentLog)
    backlog: deque[tuple[bool, str | bytes]] = field(default_factory=deque)
    subscribers: list[Subscription] = field(default_factory=list)
    closed: bool = False

    def publish(self, is_text: bool, data: str | bytes) -> None:
        self.backlog.append((is_text, data))
        while len(self.backlog) > self.limits.ws_backlog:
            self.backlog.popleft()
        for sub in self.subscribers:
            try:
                sub.queue.put_nowait((is_text, data))
            except asyncio.QueueFull:
                sub.dropped = True
        self.subscribers = [s for s in self.subscribers if not s.dropped]

    def subscribe(self) -> Subscription:
        sub = Subscription(asyncio.Queue(self.limits.ws_queue + self.limits.ws_backlog + 1), self)
        for item in self.backlog:
            sub.queue.put_nowait(item)
        if self.closed:
            sub.queue.put_nowait(None)
        else:
            self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self.subscribers.remove(sub)

    def close(self) -> None:
        self.closed = True
        for sub in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
            sub.dropped = True  # a full queue ends when drained
        self.subscribers = []


class ResponseStore:
    """One session's recorded driver responses and the followers waiting for them."""

    def __init__(self, limits: ResponseLimits | None = None) -> None:
        self.limits = limits or ResponseLimits()
        self.ledger = Ledger()
        self._entries: dict[int, Entry] = {}
        self._holding: dict[int, Entry] = {}  # entries whose bodies count in ``_held``, oldest first
        self._next_id = 1
        self._held = 0
        self._waiters = 0
        # Swapped for a fresh one on every change: a waiter checks its condition, then waits on
        # the event current at that moment (no await in between, so no wake-up is lost).
        self._changed = asyncio.Event()
        self._channels: dict[RequestKey, list[Channel]] = {}
        self.preflights = PreflightCache()  # CORS preflights carry no credential: shared answers
        self.closed = False

    @property
    def held_bytes(self) -> int:
        return self._held

    def entries(self) -> list[Entry]:
        """Every entry still known, oldest first (for inspection: what the store holds)."""
        return [self._entries[k] for k in sorted(self._entries)]

    # -- the driver's side -------------------------------------------------------------------

    def begin(self, driver: str, key: RequestKey, head: Head, *, raw: bool, document: bool = False,
              page: bool = False) -> Entry:
        """Record the driver's response (headers in, body to follow); followers may match it now.

        ``page``: a top-level document of the driver's window (not a frame); when it commits
        (``commits``), the driver's later entries belong to it."""
        entry = Entry(self._next_id, key, head, raw, document, browser_would_reuse(head))
        self._next_id += 1
        self._entries[entry.id] = entry
        self.ledger.record(driver, key, entry.id, navigation=page, page=page and commits(head))
        while len(self._entries) > self.limits.max_entries:
            self._forget(next(iter(self._entries.values())))
        self._notify()
        return entry

    def failed(self, driver: str, key: RequestKey, url: str, failure: Failure, *, page: bool = False) -> Entry:
        """Record that the driver's exchange failed before any response came."""
        entry = self.begin(driver, key, Head(failure.status, failure.title, (), url), raw=False, page=page)
        entry.failure = failure
        entry.complete = True
        return entry

    def append(self, entry: Entry, chunk: bytes) -> None:
        if entry.too_large or entry.complete or entry.evicted or not chunk:
            return
        if entry.size + len(chunk) > self.limits.max_response:
            self._release(entry)
            entry.too_large = True
        else:
            entry.chunks.append(chunk)
            entry.size += len(chunk)
            self._held += len(chunk)
            self._holding[entry.id] = entry
            self._evict_over_budget()
        self._notify()

    def finish(self, entry: Entry) -> None:
        entry.complete = True
        self._evict_over_budget()
        self._notify()

    def fail(self, entry: Entry, failure: Failure) -> None:
        """The driver's body broke off: readers stop, later followers get ``failure``."""
        self._release(entry)
        entry.failure, entry.complete = failure, True
        self._notify()

    # -- the followers' side -----------------------------------------------------------------

    async def match(self, participant: str, key: RequestKey, wait: float, *,
                    navigation: bool = False, spa_route: bool = False) -> Entry | None:
        """The entry to serve this follower request, waiting up to ``wait`` seconds for it.

        A follower's top-level ``navigation`` follows the driver's page rather than pairing
        requests: it is served the driver's latest top-level response for its URL, whatever the
        driver's method (a page the driver got by posting a form, which the follower never
        posts), as soon as the driver has one newer than the follower's page; with
        ``spa_route`` (the driver's window shows this URL, reached by ``pushState``), the
        driver's current page, whose router renders the route. A navigation to a page the
        follower already has (a drift repair, a reload) waits ``CATCH_UP_WAIT`` for a newer
        copy, then gets the latest. The served entry becomes the follower's page when it commits.

        Every other request is paired in order with the driver's entries for its key made for
        the follower's page (``Ledger.claim``). When that page has none left: the latest copy
        the driver had, at once if the driver has left that page or its browser would reuse
        that copy, else after the wait (for a non-GET whose body matched nothing, the latest
        for its method and URL). None: nothing to serve.
        """
        if navigation:
            return await self._land(participant, key, wait, spa_route)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.closed:
            entry_id = self.ledger.claim(participant, key)
            if entry_id is not None:
                return self._entries.get(entry_id) or self._latest(key)
            fallback_id, page_left = self.ledger.fallback(participant, key)
            fallback = self._by_id(fallback_id)
            if fallback is not None and (page_left or fallback.cacheable):
                return fallback
            if not await self._wait_until(loop, deadline):
                break
        if key.method in ("GET", "HEAD"):
            return self._latest(key)
        return self._latest(key) or self._by_id(self.ledger.latest_loose(key))

    async def _land(self, participant: str, key: RequestKey, wait: float, spa_route: bool) -> Entry | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        catch_up_at = loop.time() + min(wait, CATCH_UP_WAIT)
        ledger = self.ledger
        while not self.closed:
            document = ledger.latest_document(key.url)
            # A route the driver reached by pushState, never loaded as a document: its page.
            route_page = ledger.current_page if spa_route and document is None else 0
            fresh = max(document or 0, route_page)
            landing = None
            if fresh > ledger.page_of(participant) or loop.time() >= catch_up_at:
                landing = self._by_id(fresh or None)
            if landing is not None:
                if commits(landing.head):
                    ledger.enter(participant, landing.id)
                return landing
            if not await self._wait_until(loop, catch_up_at if loop.time() < catch_up_at else deadline):
                break
        return None

    async def _wait_until(self, loop: asyncio.AbstractEventLoop, until: float) -> bool:
        """Wait for the next change (or ``until``); False when the time is up or too many wait."""
        remaining = until - loop.time()
        if remaining <= 0 or self._waiters >= self.limits.max_waiters:
            return False
        self._waiters += 1
        try:
            await self._next_change(remaining)
        finally:
            self._waiters -= 1
        return True

    async def body(self, entry: Entry) -> bytes:
        """A decoded body, once the driver has all of it."""
        while not (entry.complete or entry.too_large or self.closed):
            await self._next_change(None)
        return b"".join(entry.chunks)

    async def stream(self, entry: Entry) -> AsyncIterator[bytes]:
        """A raw body's chunks as they arrive. Ends early (``entry.servable`` turns False) when the
        driver's copy breaks off, grows too large to share, or the session's store closes."""
        sent = 0
        chunks = entry.chunks
        while True:
            while sent < len(chunks):
                yield chunks[sent]
                sent += 1
            if entry.complete or not entry.servable or self.closed:
                return
            if len(entry.chunks) <= sent:
                await self._next_change(None)
            chunks = entry.chunks

    def has_waiters(self) -> bool:
        return self._waiters > 0

    # -- target WebSockets -------------------------------------------------------------------

    def open_channel(self, key: RequestKey, protocol: str = "") -> Channel:
        channel = Channel(key, self.limits, protocol)
        self._channels.setdefault(key, []).append(channel)
        self._notify()
        return channel

    def close_channel(self, channel: Channel) -> None:
        channel.close()
        open_ones = [c for c in self._channels.get(channel.key, []) if c is not channel]
        if open_ones:
            self._channels[channel.key] = open_ones
        else:
            self._channels.pop(channel.key, None)

    async def attach(self, key: RequestKey, wait: float) -> Subscription | None:
        """Subscribe to the latest open driver socket for ``key``, waiting up to ``wait`` for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not (self._channels.get(key) or self.closed):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await self._next_change(remaining)
        channels = self._channels.get(key)
        return channels[-1].subscribe() if channels else None

    # -- housekeeping --------------------------------------------------------------------------

    def close(self) -> None:
        """The session ended: wake every waiter, close every fan-out, drop the bodies."""
        self.closed = True
        for channels in list(self._channels.values()):
            for channel in channels:
                channel.close()
        self._channels.clear()
        for entry in list(self._holding.values()):
            self._release(entry)
            entry.evicted = True
        self._notify()

    def _latest(self, key: RequestKey) -> Entry | None:
        return self._by_id(self.ledger.latest(key))

    def _by_id(self, entry_id: int | None) -> Entry | None:
        return None if entry_id is None else self._entries.get(entry_id)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _next_change(self, within: float | None) -> None:
        """Wait for the next change to this store (or ``within`` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._changed.wait()

    def _release(self, entry: Entry) -> None:
        """Drop a body from memory (readers already streaming it keep their own reference)."""
        self._held -= entry.size
        entry.chunks, entry.size = [], 0
        self._holding.pop(entry.id, None)

    def _evict_over_budget(self) -> None:
        if self._held <= self.limits.budget:
            return
        latest_document = max((e.id for e in self._holding.values() if e.document), default=0)
        for entry in list(self._holding.values()):
            if self._held <= self.limits.budget:
                return
            if entry.complete and entry.id != latest_document:
                self._release(entry)
                entry.evicted = True

    def _forget(self, entry: Entry) -> None:
        self._release(entry)
        entry.evicted = True
        del self._entries[entry.id]


class ResponseRegistry:
    """The app's response stores, one per session id, created on first use."""

    def __init__(self, limits: ResponseLimits | None = None) -> None:
        self.limits = limits or ResponseLimits()
        self._stores: dict[str, ResponseStore] = {}

    def for_session(self, session_id: str) -> ResponseStore:
        store = self._stores.get(session_id)
        if store is None:
            store = self._stores[session_id] = ResponseStore(self.limits)
        return store

    def session_ids(self) -> list[str]:
        return list(self._stores)

    def drop(self, session_id: str) -> None:
        store = self._stores.pop(session_id, None)
        if store is not None:
            store.close()

    def close(self) -> None:
        for session_id in list(self._stores):
            self.drop(session_id)
