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

Several processes: each dispatches the events noted on it, and hands them to its sinks (so a
webhook queues each event once, not once per process), and to the shared state
(``sessions.shared``) in one transaction that appends the event to the replay list
(``events:replay``, its newest ``BusLimits.replay``) and publishes it on the channel ``events``.
Every process offers what it hears on that channel to its own streams, so a stream on any
process sees every event, in the one order the shared state gave them (the replay list's). A
stream that resumes first subscribes, then reads the list: an event both heard and read is
sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from sessions.integration_events import Event, EventIds, Noted, owner_key, published, translate
from sessions.shared import KEEP, Push, Shared, SharedUnavailable, Subscription, Write
from sessions.store import SessionStore

log = logging.getLogger("cobrowse.events")

Sink = Callable[[str, Event], Awaitable[None]]  # (API key id, event)
CHANNEL: Final = "events"
REPLAY: Final = "events:replay"


def event_text(key_id: str, event: Event) -> str:
    """An event and the key it belongs to, as the shared state carries them."""
    return json.dumps({"key": key_id, "id": event.id, "type": event.type, "at": event.created_at,
                       "session": event.session_id, "data": dict(event.data)}, separators=(",", ":"))


def event_from(text: str) -> tuple[str, Event]:
    """What ``event_text`` wrote."""
    raw = json.loads(text)
    return raw["key"], Event(raw["id"], raw["type"], raw["at"], raw["session"], raw["data"])


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
        self.sent: set[str] = set()  # ids of the backlog: heard live too, sent once
        self._limit = limit
        self._items: deque[Event] = deque()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.ended or event.id in self.sent:
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
    def __init__(self, store: SessionStore, shared: Shared, limits: BusLimits | None = None,
                 ids: EventIds | None = None) -> None:
        self._store = store
        self._shared = shared
        self._heard: Subscription | None = None
        self.limits = limits or BusLimits()
        self._ids = ids or EventIds()
        self._pending: deque[Noted] = deque()
        self._wake = asyncio.Event()
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

    async def listen(self, key_id: str, after: str = "") -> Listening:
        """A new stream for ``key_id``'s events, with the buffered ones after the id ``after``
        (none when empty). The stream hears before the buffer is read, so nothing falls between
        backlog and stream; what is in both is sent once."""
        stream = Stream(key_id, self.limits.stream)
        self._streams.add(stream)
        if self._closing:
            stream.end("shutdown")
        if not after:
            return Listening(stream, [], False)
        try:
            replay = [event_from(text) for text in await self._shared.items(REPLAY)]
        except BaseException:
            self._streams.discard(stream)
            raise
        ids = [e.id for _, e in replay]
        if after in ids:
            newer, gap = replay[ids.index(after) + 1:], False
        else:  # older than the buffer (a gap when something after it has left), or not one of ours
            newer = [(k, e) for k, e in replay if e.id > after]
            gap = bool(replay) and replay[0][1].id > after
        backlog = [e for k, e in newer if k == key_id]
        stream.sent.update(e.id for e in backlog)
        return Listening(stream, backlog, gap)

    def unlisten(self, stream: Stream) -> None:
        self._streams.discard(stream)

    def counters(self) -> dict[str, int]:
        return {"published": self.published, "dropped": self.dropped, "pending": len(self._pending),
                "streams": len(self._streams)}

    async def start(self) -> None:
        """Hear the events of every process, and start dispatching this one's."""
        self._heard = await self._shared.subscribe(CHANNEL, self._hear)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="events.dispatch")

    def _hear(self, text: str) -> None:
        key, event = event_from(text)
        for stream in self._streams:
            if stream.key_id == key:
                stream.offer(event)

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
        if self._heard is not None:
            await self._heard.close()
            self._heard = None

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
        text = event_text(key, event)
        try:
            await self._shared.transact(CHANNEL, lambda _: (Write(
                value=KEEP, push=(Push(REPLAY, (text,), self.limits.replay),), publish=((CHANNEL, text),)), None))
        except SharedUnavailable as exc:
            log.warning("events.not_shared session=%s event=%s error=%s", noted.session_id, event.id, exc)
        for sink in self._sinks:
            try:
                await sink(key, event)
            except Exception:
                log.exception("events.sink_failed session=%s event=%s", noted.session_id, event.id)
