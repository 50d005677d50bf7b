"""The event bus: session events in (from ``proxy.audit.event``), integration events out to the
webhooks' deliverer and to the event streams of ``GET /api/v1/events``.

``publish`` is called wherever a session event is noted, whether or not the audit trail is on.
It never blocks and never awaits: it gives the event its id (``sessions.integration_events.EventIds``,
so ids sort in publishing order) and appends it to a bounded queue. One dispatcher task takes
them in order, looks the session up in the store (the participant's role and name, and the API
key that created the session: ``owner_key``), translates (``translate``: an allow-list of
fields, never links or secrets), keeps the event in the replay buffer, offers it to every stream
of that key and awaits every sink (the deliverer) in turn. One task and one order: a receiver
sees a session's events in the order they happened.

Bounds: at most ``BusLimits.pending`` events wait for the dispatcher (past that, ``dropped`` counts
them); the replay buffer keeps the newest ``BusLimits.replay`` events of all keys (a stream that
resumes from an id older than what it holds is told of the gap); a stream holds at most
``BusLimits.stream`` events its client has not read, and is ended past that (the client
resumes with ``Last-Event-ID``). ``close_streams`` ends every stream (on shutdown, before the
runner waits for handlers); ``close`` lets the dispatcher finish what is queued and stops it.

Limit: the bus is one process's. With several nodes (issue 10) each publishes the events noted
on it, so a stream sees only its own node's; the events must then travel through the shared
backend (a Redis stream fits: its ids sort, and it keeps a bounded history to resume from).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sessions.integration_events import Event, EventIds, Noted, owner_key, published, translate
from sessions.store import SessionStore

log = logging.getLogger("cobrowse.events")

Sink = Callable[[str, Event], Awaitable[None]]  # (API key id, event)


@dataclass(frozen=True, slots=True)
class BusLimits:
    pending: int = 10_000
    replay: int = 1_000
    stream: int = 1_000


class Stream:
    """One listener's events (one ``GET /api/v1/events``): those of its key's sessions."""

    def __init__(self, key_id: str, limit: int) -> None:
        self.key_id = key_id
        self.ended = ""  # why it ended: "shutdown", "overflow"
        self._limit = limit
        self._items: deque[Event] = deque()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.ended:
            return
        if len(self._items) >= self._limit:
            self.end("overflow")
            return
        self._items.append(event)
        self._wake.set()

    def end(self, why: str) -> None:
        self.ended = self.ended or why
        self._wake.set()

    async def next(self, within: float) -> Event | None:
        """The next event; None after ``within`` seconds without one, or once ended (and drained)."""
        while not self._items:
            if self.ended:
                return None
            self._wake.clear()
            try:
                async with asyncio.timeout(within):
                    await self._wake.wait()
            except TimeoutError:
                return None
        return self._items.popleft()


@dataclass(frozen=True, slots=True)
class Listening:
    stream: Stream
    backlog: list[Event]  # the buffered events after the client's last id
    gap: bool  # events after that id have left the buffer: the client missed some


class EventBus:
    def __init__(self, store: SessionStore, limits: BusLimits | None = None, ids: EventIds | None = None) -> None:
        self._store = store
        self.limits = limits or BusLimits()
        self._ids = ids or EventIds()
        self._pending: deque[Noted] = deque()
        self._wake = asyncio.Event()
        self._replay: deque[tuple[str, Event]] = deque()
        self._evicted = ""  # the newest id that left the replay buffer
        self._sinks: list[Sink] = []
        self._streams: set[Stream] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.published = 0
        self.dropped = 0

    def publish(self, session_id: str, participant: str, name: str, at: float, detail: Mapping[str, str]) -> None:
        """Take a session event (an audit name and its details); never blocks."""
        if not published(name, detail):
            return
        if self._closing or len(self._pending) >= self.limits.pending:
            self.dropped += 1
            log.warning("events.dropped session=%s name=%s closing=%s", session_id, name, self._closing)
            return
        self._pending.append(Noted(session_id, participant, name, at, dict(detail), self._ids.next(at)))
        self._wake.set()

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def listen(self, key_id: str, after: str = "") -> Listening:
        """A new stream for ``key_id``'s events, with the buffered ones after the id ``after``
        (none when empty). Taken in one step, so nothing falls between backlog and stream."""
        stream = Stream(key_id, self.limits.stream)
        self._streams.add(stream)
        if self._closing:
            stream.end("shutdown")
        backlog = [e for k, e in self._replay if k == key_id and e.id > after] if after else []
        return Listening(stream, backlog, bool(after) and self._evicted > after)

    def unlisten(self, stream: Stream) -> None:
        self._streams.discard(stream)

    def counters(self) -> dict[str, int]:
        return {"published": self.published, "dropped": self.dropped, "pending": len(self._pending),
                "streams": len(self._streams)}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="events.dispatch")

    def close_streams(self) -> None:
        for stream in self._streams:
            stream.end("shutdown")

    async def close(self) -> None:
        """Stop taking events, deliver those queued to the sinks, stop the dispatcher."""
        self._closing = True
        self.close_streams()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            while not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            await self._dispatch(self._pending.popleft())

    async def _dispatch(self, noted: Noted) -> None:
        try:
            session = await self._store.get(noted.session_id)
        except Exception:
            log.exception("events.lookup_failed session=%s", noted.session_id)
            session = None
        event = translate(noted, session)
        if event is None:
            return
        key = owner_key(session)
        self.published += 1
        if len(self._replay) >= self.limits.replay:
            self._evicted = self._replay.popleft()[1].id
        self._replay.append((key, event))
        for stream in self._streams:
            if stream.key_id == key:
                stream.offer(event)
        for sink in self._sinks:
            try:
                await sink(key, event)
            except Exception:
                log.exception("events.sink_failed session=%s event=%s", noted.session_id, event.id)
