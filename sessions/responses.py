"""The driver's response store: fetch once, serve every participant (the waiting room), in the
state every server process shares (``sessions.shared``).

A ``ResponseStore`` is one process's handle on one session's responses (``ResponseRegistry``
makes them lazily and drops them when the session ends). The driver's exchanges are recorded as
entries: the target's status, reason and headers as received (before any rewriting) and the
body, either *decoded* (types the proxy rewrites: rewritten again for each participant, whose
runtime tag differs) or *raw* (everything else, teed as the driver streams it). Followers are
paired with entries by ``sessions.matching`` (key and order) and wait here, bounded, for an
entry that is not recorded yet. The driver's request and its follower's twin may reach
different processes: everything they must agree on is shared.

What is shared, per session (names under ``resp:<session>``): one value, the ledger and every
entry's metadata, changed only by ``Shared.transact`` (``sessions.response_state``: each change
is a pure step, so claims, eviction and the budget are decided atomically across processes);
per entry an immutable record (key, head, raw) written before the entry is recorded, and its
body as a byte string that grows; the session's channel, on which every change is announced.
Each process subscribes to that channel once per session; a waiter or a body streamer wakes on
it and also looks again every ``RECHECK`` seconds, so a lost announcement costs latency, not
correctness.

Invariants and limits:
- An entry is recorded (and matchable) as soon as the driver has the response headers; a
  follower may read a raw body while the driver's copy is still arriving (the bytes are
  appended before the change announcing them).
- One body is held up to ``max_response`` bytes. Past that the entry is marked ``too_large``:
  the driver's own transfer goes on, but followers get a 502 ("too large to share").
- All bodies of a session together stay within ``budget`` bytes (oldest complete ones evicted
  first; never the latest document or a body still arriving); a body still arriving counts
  every ``ACCOUNT_EVERY`` bytes (so the budget may be passed by that much per such body) and
  whole once complete; at most ``max_entries`` entries.
  An evicted entry is still matched (order is kept) but can no longer be served.
- A follower waits at most the time it is given, and at most ``max_waiters`` wait at once in one
  process; a body that stops growing for ``stall`` seconds (its driver's process died) ends as
  broken.
- Target WebSockets: ``sessions.response_sockets`` (the driver's socket, fanned out through the
  shared state to followers on any process).
- Ending (``end``) deletes the session's keys, leaves a closed tombstone for a while (so a
  request still in flight cannot start the state again) and wakes every waiter on every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Final, TypeVar

from sessions import response_state as rs
from sessions.matching import Ledger, RequestKey
from sessions.preflight import PreflightCache
from sessions.response_sockets import Channel, Subscription, attach_to, open_on
from sessions.response_state import Failure, Meta, State
from sessions.shared import Shared, Write

__all__ = ["CATCH_UP_WAIT", "Channel", "Entry", "Failure", "Head", "ResponseLimits", "ResponseRegistry",
           "ResponseStore", "Subscription", "browser_would_reuse", "commits"]

T = TypeVar("T")
Headers = tuple[tuple[str, str], ...]

# How long a follower's navigation waits for a new driver copy before catching up on the latest.
CATCH_UP_WAIT = 1.5
RECHECK: Final = 0.25  # seconds a waiter sleeps at most before it looks at the shared state again
STREAM_SLICE: Final = 256 * 1024  # bytes of a body read from the shared state at once
ACCOUNT_EVERY: Final = 1024 * 1024  # bytes a body still arriving may grow before its size is counted
TOMBSTONE_TTL: Final = 3600.0  # seconds an ended session's closed marker is kept
RECORDS_CACHED: Final = 1024  # immutable entry records a process keeps per session
CHANGED, ENDED = "c", "x"  # what the session's channel carries


class _Ended(Enum):
    ENDED = "ended"


GONE: Final = _Ended.ENDED  # what a change to an ended session's state comes to


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    max_response: int = 16 * 1024 * 1024
    budget: int = 128 * 1024 * 1024
    max_waiters: int = 256
    max_entries: int = 5_000
    ws_backlog: int = 1000
    ws_queue: int = 1000
    stall: float = 60.0


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


@dataclass(slots=True, eq=False)
class Entry:
    """The caller's own copy of one entry: its record and its metadata when last looked at
    (the store's methods refresh it in place)."""

    id: int
    key: RequestKey
    head: Head
    raw: bool  # body as received (streamed) rather than decoded for rewriting
    document: bool
    cacheable: bool  # the driver's browser would not ask again for a while
    token: str = ""  # names its record and body in the shared state
    written: int = 0  # the driver's side: bytes of the body appended so far
    size: int = 0
    complete: bool = False
    too_large: bool = False
    evicted: bool = False
    failure: Failure | None = None

    @property
    def servable(self) -> bool:
        return self.failure is None and not self.too_large and not self.evicted

    def refresh(self, meta: Meta | None) -> None:
        """Take the shared metadata in (None: the entry is forgotten, or the session ended)."""
        if meta is None:
            self.evicted = True
            return
        self.size, self.complete, self.failure = meta.size, meta.complete, meta.failure
        self.too_large, self.evicted = meta.too_large, meta.evicted


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


def _record_json(key: RequestKey, head: Head, raw: bool) -> str:
    return json.dumps([[key.method, key.url, key.body, key.range],
                       [head.status, head.reason, [list(h) for h in head.headers], head.url], raw])


def _record_of(text: str) -> tuple[RequestKey, Head, bool]:
    key, (status, reason, headers, url), raw = json.loads(text)
    return RequestKey(*key), Head(status, reason, tuple((k, v) for k, v in headers), url), raw


class ResponseStore:
    """One session's recorded driver responses and the followers waiting for them, as this
    process sees them (see the module's docstring)."""

    def __init__(self, shared: Shared, session_id: str, limits: ResponseLimits | None = None) -> None:
        self.limits = limits or ResponseLimits()
        self._shared = shared
        self._name = f"resp:{session_id}"
        self._state_limits = rs.Limits(self.limits.max_response, self.limits.budget, self.limits.max_entries)
        self._records: OrderedDict[str, tuple[RequestKey, Head, bool]] = OrderedDict()
        self._last: tuple[str | None, State] | None = None  # the state as this process last left it
        self._waiters = 0
        self._someone_waits = asyncio.Event()  # set while a follower waits here
        # Swapped for a fresh one on every change heard: a waiter takes the event current before
        # it looks at the state, so a change made after that look wakes it.
        self._changed = asyncio.Event()
        self._subscription: Any = None
        self._listening = asyncio.Lock()
        self._turn = asyncio.Lock()
        self.preflights = PreflightCache(shared, f"{self._name}:preflight")  # shared answers (no credential)
        self.closed = False

    # -- names in the shared state -------------------------------------------------------------

    def _record_key(self, token: str) -> str:
        return f"{self._name}:r:{token}"

    def _body_key(self, token: str) -> str:
        return f"{self._name}:b:{token}"

    # -- the driver's side -------------------------------------------------------------------

    async def begin(self, driver: str, key: RequestKey, head: Head, *, raw: bool, document: bool = False,
                    page: bool = False, failure: Failure | None = None) -> Entry:
        """Record the driver's response (headers in, body to follow); followers may match it now.

        ``page``: a top-level document of the driver's window (not a frame); when it commits
        (``commits``), the driver's later entries belong to it."""
        token = secrets.token_hex(8)
        await self._shared.put(self._record_key(token), _record_json(key, head, raw))
        self._remember(token, (key, head, raw))
        meta = Meta(token, document, browser_would_reuse(head), commits(head))
        done = await self._change(lambda s: rs.begin(s, self._state_limits, driver, key, meta, navigation=page,
                                                     failure=failure))
        entry = Entry(0, key, head, raw, document, meta.cacheable, token)
        if done is GONE:  # the session ended: nothing is shared any more
            entry.evicted = True
            await self._shared.delete(self._record_key(token))
            return entry
        entry.id, dropped = done
        if failure is not None:
            entry.failure, entry.complete = failure, True
        await self._let_go(dropped)
        return entry

    async def failed(self, driver: str, key: RequestKey, url: str, failure: Failure, *, page: bool = False) -> Entry:
        """Record that the driver's exchange failed before any response came."""
        return await self.begin(driver, key, Head(failure.status, failure.title, (), url), raw=False, page=page,
                                failure=failure)

    async def append(self, entry: Entry, chunk: bytes) -> None:
        """Add to the driver's body. The bytes are shared at once (readers are told); the size
        counts in the shared state past ``max_response`` (too large), every ``ACCOUNT_EVERY``
        bytes and when the body is complete, so a small body costs no transaction of its own."""
        if entry.too_large or entry.complete or entry.evicted or not chunk or not entry.id:
            return
        entry.written = await self._shared.append(self._body_key(entry.token), chunk)
        if entry.written > self.limits.max_response or entry.written - entry.size >= ACCOUNT_EVERY:
            await self._step(entry, lambda s: rs.grow(s, self._state_limits, entry.id, entry.written))
        else:
            await self._shared.publish(self._name, CHANGED)

    async def finish(self, entry: Entry) -> None:
        if entry.id:
            await self._step(entry, lambda s: rs.finish(s, self._state_limits, entry.id, entry.written))
        entry.complete = True

    async def fail(self, entry: Entry, failure: Failure) -> None:
        """The driver's body broke off: readers stop, later followers get ``failure``."""
        if entry.id:
            await self._step(entry, lambda s: rs.fail(s, entry.id, failure))
        entry.failure, entry.complete = failure, True

    async def _step(self, entry: Entry, step: Callable[[State], tuple[Meta | None, rs.Dropped]]) -> None:
        done = await self._change(step)
        meta, dropped = (None, rs.Dropped()) if done is GONE else done
        entry.refresh(meta)
        await self._let_go(dropped)

    async def _let_go(self, dropped: rs.Dropped) -> None:
        keys = [self._body_key(t) for t in (*dropped.bodies, *dropped.records)]
        keys += [self._record_key(t) for t in dropped.records]
        if keys:
            await self._shared.delete(*keys)

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
        for its method and URL). None: nothing to serve. Every decision is taken inside one
        transaction on the shared state (``sessions.response_state``).
        """
        await self._listen()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        if navigation:
            catch_up_at = loop.time() + min(wait, CATCH_UP_WAIT)
            while not self.closed:
                changed, catch_up = self._changed, loop.time() >= catch_up_at
                landing = await self._change(functools.partial(rs.land, participant=participant, key=key,
                                                               spa_route=spa_route, catch_up=catch_up))
                if landing is GONE:
                    break
                if landing is not None:
                    return await self._entry(landing)
                if not await self._wait(changed, catch_up_at if not catch_up else deadline):
                    break
            return None
        while not self.closed:
            changed = self._changed
            decided = await self._change(lambda s: rs.claim(s, participant, key))
            if decided is GONE:
                break
            if decided[0]:
                return await self._entry(decided[1])
            if not await self._wait(changed, deadline):
                break
        return await self._entry(await self._look(lambda s: rs.given_up(s, key)))

    async def _wait(self, changed: asyncio.Event, until: float) -> bool:
        """Wait for the next change (or ``until``); False when the time is up or too many wait."""
        remaining = until - asyncio.get_running_loop().time()
        if remaining <= 0 or self._waiters >= self.limits.max_waiters:
            return False
        self._waiters += 1
        self._someone_waits.set()
        try:
            await _woken(changed, min(remaining, RECHECK))
        finally:
            self._waiters -= 1
            if not self._waiters:
                self._someone_waits.clear()
        return True

    async def body(self, entry: Entry) -> bytes:
        """A decoded body, once the driver has all of it (b"" when it cannot be served)."""
        if not entry.complete:
            await self._until_complete(entry)
        if not entry.servable:
            return b""
        data = await self._shared.read(self._body_key(entry.token))
        if len(data) != entry.size:  # let go of since the entry was looked at (evicted)
            await self.refresh(entry)
            return data if entry.servable and len(data) == entry.size else b""
        return data

    async def _until_complete(self, entry: Entry) -> None:
        await self._listen()
        quiet = _Stall(self.limits.stall)
        while True:
            changed = self._changed
            await self.refresh(entry)
            if entry.complete or not entry.servable or self.closed:
                return
            if quiet.over(entry.size):
                entry.failure = _STALLED
                return
            await _woken(changed, RECHECK)

    async def stream(self, entry: Entry) -> AsyncIterator[bytes]:
        """A raw body's bytes as they arrive. Ends early (``entry.servable`` turns False) when the
        driver's copy breaks off, grows too large to share, stalls, or the session ends."""
        key = self._body_key(entry.token)
        if entry.complete:  # every byte is there already (appended before it was complete)
            sent = 0
            while sent < entry.size and entry.servable:
                data = await self._shared.read(key, sent, min(sent + STREAM_SLICE, entry.size) - 1)
                if not data:  # let go of since the entry was looked at
                    await self.refresh(entry)
                    return
                sent += len(data)
                yield data
            return
        async for data in self._arriving(entry, key):
            yield data

    async def _arriving(self, entry: Entry, key: str) -> AsyncIterator[bytes]:
        await self._listen()
        sent, quiet = 0, _Stall(self.limits.stall)
        while True:
            changed = self._changed
            data = await self._shared.read(key, sent, sent + STREAM_SLICE - 1)
            if data:
                sent += len(data)
                yield data
                continue
            await self.refresh(entry)
            if entry.complete and entry.servable:  # every byte was appended before it was complete
                while data := await self._shared.read(key, sent, sent + STREAM_SLICE - 1):
                    sent += len(data)
                    yield data
                return
            if entry.complete or not entry.servable or self.closed:
                return
            if quiet.over(sent):
                entry.failure = _STALLED
                return
            await _woken(changed, RECHECK)

    def has_waiters(self) -> bool:
        return self._waiters > 0

    async def until_waiting(self) -> None:
        """Until a follower waits here (a fence: what comes next finds it waiting)."""
        await self._someone_waits.wait()

    # -- reading the shared state ----------------------------------------------------------------

    async def state(self) -> State:
        """The session's shared state as it is now (a copy: for inspection)."""
        state = rs.state_of(await self._shared.get(self._name))
        if state.closed:
            self.closed = True
        return state

    async def _peek(self) -> State:
        """The state as it is now, for reading only (it may be the one this process keeps)."""
        state = self._parsed(await self._shared.get(self._name), take=False)
        if state.closed:
            self.closed = True
        return state

    async def ledger(self) -> Ledger:
        return (await self.state()).ledger

    async def held_bytes(self) -> int:
        return (await self.state()).held

    async def entries(self) -> list[Entry]:
        """Every entry still known, oldest first (for inspection: what the store holds)."""
        state = await self.state()
        found = [await self._entry((i, m)) for i, m in state.entries.items()]
        return [e for e in found if e is not None]

    async def body_of(self, entry: Entry) -> bytes:
        """What the store holds of an entry's body now (for inspection)."""
        return await self._shared.read(self._body_key(entry.token))

    async def refresh(self, entry: Entry) -> None:
        """Take the entry's shared metadata in, as it is now."""
        state = await self._peek()
        entry.refresh(state.entries.get(entry.id))

    async def _look(self, decide: Callable[[State], T]) -> T:
        return decide(await self._peek())

    async def _entry(self, found: rs.Found) -> Entry | None:
        if found is None:
            return None
        entry_id, meta = found
        record = self._records.get(meta.token)
        if record is None:
            text = await self._shared.get(self._record_key(meta.token))
            if text is None:  # forgotten meanwhile
                return None
            record = _record_of(text)
            self._remember(meta.token, record)
        key, head, raw = record
        entry = Entry(entry_id, key, head, raw, meta.document, meta.cacheable, meta.token)
        entry.refresh(meta)
        return entry

    def _remember(self, token: str, record: tuple[RequestKey, Head, bool]) -> None:
        self._records[token] = record
        while len(self._records) > RECORDS_CACHED:
            self._records.popitem(last=False)

    # -- changing the shared state ---------------------------------------------------------------

    async def _change(self, step: Callable[[State], T]) -> T | _Ended:
        """Run ``step`` on the shared state in one transaction and announce the change; ``GONE``
        when the session has ended (nothing changes any more)."""
        channel = self._name

        after: list[tuple[str | None, State]] = []  # what the run that committed left

        def change(old: str | None) -> tuple[Write | None, T | _Ended]:
            state = self._parsed(old, take=True)
            if state.closed:
                return None, GONE
            state.changed = False
            result = step(state)
            if not state.changed:
                after[:] = [(old, state)]
                return None, result
            text = rs.state_json(state)
            after[:] = [(text, state)]
            return Write(value=text, publish=((channel, CHANGED),)), result

        async with self._turn:  # one change at a time from this process: they would only conflict
            result = await self._shared.transact(self._name, change)
        if result is GONE:
            self.closed = True
        elif after:
            self._last = after[0]
        return result

    def _parsed(self, text: str | None, *, take: bool) -> State:
        """The state ``text`` holds: the one this process last left when it is that text (given
        away when ``take``: the caller changes it), else parsed afresh."""
        last = self._last
        if last is not None and last[0] == text:
            if take:
                self._last = None
            return last[1]
        return rs.state_of(text)

    # -- target WebSockets -------------------------------------------------------------------

    async def open_channel(self, key: RequestKey, protocol: str = "") -> Channel:
        """The driver's socket for ``key`` is open: followers on any process may attach."""
        channel = open_on(self._shared, self._name, key, protocol, self.limits)
        await self._change(lambda s: rs.open_socket(s, rs.Socket(key, channel.id, protocol)))
        return channel

    async def close_channel(self, channel: Channel) -> None:
        await channel.close()
        let_go = await self._change(lambda s: rs.close_socket(s, self._state_limits, channel.id))
        for socket_id in () if let_go is GONE else let_go:
            await self._shared.delete(*Channel.names(self._name, socket_id))

    async def attach(self, key: RequestKey, wait: float) -> Subscription | None:
        """Subscribe to the latest open driver socket for ``key``, waiting up to ``wait`` for one."""
        await self._listen()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.closed:
            changed = self._changed
            socket = await self._look(lambda s: rs.socket_for(s, key))
            if socket is not None:
                return await attach_to(self._shared, self._name, socket.id, socket.protocol, self.limits)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await _woken(changed, min(remaining, RECHECK))
        return None

    # -- hearing changes, and the end ------------------------------------------------------------

    async def _listen(self) -> None:
        """Subscribe this process to the session's channel (once)."""
        if self._subscription is not None or self.closed:
            return
        async with self._listening:
            if self._subscription is None:
                self._subscription = await self._shared.subscribe(self._name, self._heard)

    def _heard(self, message: str) -> None:
        if message == ENDED:
            self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def end(self) -> None:
        """The session ended: drop every shared key of its responses and wake every waiter on
        every process (the tombstone keeps in-flight requests from starting it again)."""
        state = await self._shared.transact(self._name, lambda old: (
            Write(value=rs.CLOSED, ttl=TOMBSTONE_TTL, publish=((self._name, ENDED),)), rs.state_of(old)))
        for socket in state.sockets:
            await Channel.end(self._shared, self._name, socket.id, self.limits.ws_backlog)
        keys = [k for m in state.entries.values() for k in (self._record_key(m.token), self._body_key(m.token))]
        keys += [k for s in (*(s.id for s in state.sockets), *state.gone) for k in Channel.names(self._name, s)]
        await self._shared.delete(*keys, self.preflights.key)
        await self.close()

    async def close(self) -> None:
        """This process lets go of the session (its subscription); waiters here wake with nothing."""
        self.closed = True
        self._wake()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.close()


_STALLED = Failure(502, "Transfer stalled", "The leader's copy of this response stopped arriving.")


class _Stall:
    """Whether a body has not grown for ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self._limit, self._size = limit, -1
        self._since = asyncio.get_running_loop().time()

    def over(self, size: int) -> bool:
        now = asyncio.get_running_loop().time()
        if size != self._size:
            self._size, self._since = size, now
        return now - self._since > self._limit


async def _woken(changed: asyncio.Event, within: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            await changed.wait()


class ResponseRegistry:
    """This process's handles on the response stores, one per session id, made on first use."""

    def __init__(self, shared: Shared, limits: ResponseLimits | None = None) -> None:
        self.limits = limits or ResponseLimits()
        self._shared = shared
        self._stores: dict[str, ResponseStore] = {}

    def for_session(self, session_id: str) -> ResponseStore:
        store = self._stores.get(session_id)
        if store is None:
            store = self._stores[session_id] = ResponseStore(self._shared, session_id, self.limits)
        return store

    def session_ids(self) -> list[str]:
        return list(self._stores)

    async def end(self, session_id: str) -> None:
        """The session ended: its responses are dropped everywhere (``ResponseStore.end``)."""
        await self.for_session(session_id).end()
        self._stores.pop(session_id, None)

    async def drop(self, session_id: str) -> None:
        """This process forgets the session (what is shared stays: ``end`` drops that)."""
        store = self._stores.pop(session_id, None)
        if store is not None:
            await store.close()

    async def close(self) -> None:
        for session_id in list(self._stores):
            await self.drop(session_id)
