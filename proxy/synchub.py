"""The app's sync sockets, per session, and the one door to the sessions' relays.

Each session's relay lives in the shared state (``proxy.relay_rooms``), not here: every relay
event is one transaction there, whose outcome is published on the session's channel. This
process subscribes to the channel of every session it holds sockets for (from its first socket
to its last) and queues what is addressed to its own sockets. So sockets of one session on
several processes co-browse as on one, and a moment with no socket open (the leader alone,
between two pages) loses no state. When a socket opens or idles, the connections that processes
with no heartbeat left in the relay are dropped (at most every ``DEAD_CHECK_SECONDS`` per
session), so the participants list stays true after a process died.

Every socket has an ``Outbox``: messages are queued synchronously, in the order the relay
produced them, and one writer task per socket sends them. That keeps ``n`` in order on the
wire even when several handlers fan out at once. A socket whose outbox overflows (a reader
that stopped reading) is closed with 1013; it reconnects and catches up from state.

A participant may hold at most ``SOCKETS_PER_PARTICIPANT`` sockets in a session at once, over
all processes (its pages and windows; a reload closes one before it opens the next): ``attach``
refuses the one over the cap, so one browser cannot make the servers hold hundreds of sockets.

The shared state may be unreachable (``SharedUnavailable``): the caller closes the socket with
1013 and the page reconnects. A close that could not be written is written with the session's
next event from this process. Publications missed while the pub/sub connection was broken
show as a gap in the relay's ``n``: the sockets of that session here are closed with 1013, and
their pages reconnect and replay what they missed from the replay list. A socket of this process
that the relay no longer holds (this process stalled past its heartbeat and another dropped its
connections) is closed the same way, so its page reconnects instead of silently hearing nothing.

Kept apart from ``proxy/syncws.py`` (the endpoint) so that ``proxy/keys.py`` can name the type
without an import cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from proxy.masked_names import MaskedNames
from proxy.redis_store import StoreConflict
from proxy.relay_rooms import Delivery, Op, RelayRooms, channel
from sessions.model import Session
from sessions.protocol import CLOSE_TOO_SLOW, Inbound
from sessions.relay import Member, Outcome, Relay
from sessions.shared import SharedUnavailable, Subscription

log = logging.getLogger("cobrowse.sync")
OUTBOX_LIMIT = 4000
SOCKETS_PER_PARTICIPANT = 16
CLOSE_SHUTDOWN = 1001
RESTARTING = '{"type":"restarting"}'  # a server message (no ``n``): the server is going away, reconnect
DEAD_CHECK_SECONDS = 2.0
# This process missed publications of the session, or its socket is no longer in the relay (it
# was taken for dead): the page reconnects (1013: try again).
CLOSE_MISSED = 1013
# What a relay event may raise when the shared state cannot do it now: the socket closes with 1013.
UNAVAILABLE = (SharedUnavailable, StoreConflict)


@dataclass(frozen=True, slots=True)
class CloseFrame:
    code: int
    reason: str


class Outbox:
    """What one socket still has to send: text frames, then possibly a close."""

    def __init__(self, participant: str = "", limit: int = OUTBOX_LIMIT) -> None:
        self.participant = participant
        self._items: deque[str | CloseFrame] = deque()
        self._ready = asyncio.Event()
        self._limit = limit
        self.closing = False

    def put(self, item: str | CloseFrame) -> None:
        if self.closing:
            return
        if isinstance(item, CloseFrame):
            self.closing = True
        elif len(self._items) >= self._limit:
            item = CloseFrame(CLOSE_TOO_SLOW, "too slow")
            self.closing = True
        self._items.append(item)
        self._ready.set()

    async def get(self) -> str | CloseFrame:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


@dataclass(slots=True)
class _Local:
    """This process's part of a session: its sockets' outboxes and its channel subscription."""

    subscribing: asyncio.Future[Subscription]
    outboxes: dict[str, Outbox] = field(default_factory=dict)
    users: int = 0  # sockets attached or attaching
    checked: float = 0.0  # when dead processes' connections were last looked for
    n: int | None = None  # the relay's ``n`` after the last publication heard (None: none yet)
    opened: set[str] = field(default_factory=set)  # sockets whose open was written to the relay
    missing: set[str] = field(default_factory=set)  # opened sockets the last check found gone from it


class SyncHub:
    def __init__(self, rooms: RelayRooms) -> None:
        self.rooms = rooms
        self._local: dict[str, _Local] = {}
        self._ids = itertools.count(1)
        self._orphans: dict[str, set[str]] = {}  # closes not yet written (the shared state was down)
        # Per session: the names of the fields the controller's page masks (``privacy`` messages),
        # read by the audit trail's body redaction; forgotten when the session ends.
        self.masked = MaskedNames(rooms.shared)
        self._messages = {"in": 0, "out": 0}  # for /metrics (proxy.metrics): received, and queued per socket

    async def note_masked(self, session_id: str, names: frozenset[str]) -> frozenset[str]:
        """Add the masked-field names a page reported (at most ``MAX_MASKED_PER_SESSION`` kept,
        every process told: ``proxy.masked_names``); returns the names that were new."""
        return await self.masked.note(session_id, names)

    def masked_names(self, session_id: str) -> frozenset[str]:
        return self.masked.names(session_id)

    # ---- relay events

    async def apply(self, session: Session, op: Op, *, buffer: bool = False,
                    create: bool = True) -> tuple[Outcome, Relay | None]:
        """One relay event of ``session`` (see ``proxy.relay_rooms``), after any close this process
        still owes it."""
        owed = self._orphans.pop(session.id, set())
        now = time.time()

        def with_owed(relay: Relay) -> Outcome:
            dropped = relay.drop(owed, now) if owed else None
            outcome = op(relay)
            return replace(outcome, sends=(*dropped.sends, *outcome.sends)) if dropped is not None else outcome
        try:
            return await self.rooms.apply(session.id, with_owed, expires_at=session.expires_at,
                                          fresh=session if create else None, buffer=buffer)
        except BaseException:
            if owed:
                self._orphans.setdefault(session.id, set()).update(owed)
            raise

    async def attach(self, session: Session, member: Member, origin: str, roster: Iterable[Member],
                     cap: int = SOCKETS_PER_PARTICIPANT) -> tuple[str, Outbox] | None:
        """Open a socket of ``member`` in the relay: its id and outbox, or None when the
        participant already holds ``cap`` (over every process). Raises ``UNAVAILABLE``."""
        local = await self._enter(session.id)
        conn_id = f"{self.rooms.process}.{next(self._ids)}"
        outbox = local.outboxes[conn_id] = Outbox(member.id)
        members = tuple(roster)

        def open_under_cap(relay: Relay) -> Outcome:
            return relay.open(conn_id, member, origin, members) if relay.conns_of(member.id) < cap else Outcome()
        try:
            _, relay = await self.apply(session, open_under_cap)
        except BaseException:
            await self._leave(session.id, conn_id)
            raise
        if relay is None or conn_id not in relay.conn_ids():
            await self._leave(session.id, conn_id)
            return None
        local.opened.add(conn_id)
        with contextlib.suppress(*UNAVAILABLE):  # best effort: the socket's idle checks again
            await self._drop_dead(session, relay, local)
        return conn_id, outbox

    async def receive(self, session: Session, conn_id: str, message: Inbound) -> tuple[Outcome, Relay | None]:
        """A page's message that passed the protocol's checks."""
        self._messages["in"] += 1
        outcome, relay = await self.apply(session, lambda r: r.receive(conn_id, message, time.time()),
                                          buffer=Relay.needs_buffer(message), create=False)
        if relay is not None and not relay.ended and conn_id not in relay.conn_ids():
            self._dropped(session.id, (conn_id,))
        return outcome, relay

    async def idle(self, session: Session, conn_id: str, pending: bool) -> None:
        """The socket has been quiet: acknowledge what is ``pending``; look for dead processes."""
        relay = None
        if pending:
            _, relay = await self.apply(session, lambda r: r.idle(conn_id), create=False)
        local = self._local.get(session.id)
        if local is not None and local.checked < time.time() - DEAD_CHECK_SECONDS:
            relay = relay or await self.rooms.read(session.id)
            if relay is not None:
                await self._drop_dead(session, relay, local)

    async def close(self, session: Session, conn_id: str) -> Relay | None:
        """The socket closed: the relay after its close (None if the shared state could not be
        reached: the close is owed, written with the session's next event here)."""
        try:
            _, relay = await self.apply(session, lambda r: r.close(conn_id, time.time()), create=False)
        except UNAVAILABLE:
            self._orphans.setdefault(session.id, set()).add(conn_id)
            relay = None
        finally:
            await self._leave(session.id, conn_id)
        return relay

    async def _drop_dead(self, session: Session, relay: Relay, local: _Local) -> None:
        """Drop the connections of dead processes from the relay; and close this process's sockets
        that two checks in a row found gone from it (another process took this one for dead)."""
        local.checked = time.time()
        gone = {c for c in local.opened if c not in relay.conn_ids()} if not relay.ended else set()
        self._dropped(session.id, gone & local.missing)
        local.missing = gone
        dead = await self.rooms.dead_conns(relay)
        if dead:
            log.info("sync.dead session=%s conns=%d", session.id, len(dead))
            await self.apply(session, lambda r: r.drop(dead, time.time()), create=False)

    async def announce(self, session: Session, url: str) -> None:
        """The driver's main window loaded ``url``, a page with no runtime to say so: tell the
        followers (and keep it in the state a late joiner lands on)."""
        await self.apply(session, lambda r: r.announce(url, time.time()))

    async def current_url(self, session_id: str) -> str:
        relay = await self.rooms.read(session_id)
        return relay.current_url if relay is not None else ""

    async def counters(self, session_id: str) -> dict[str, Any] | None:
        relay = await self.rooms.read(session_id)
        return relay.counters() if relay is not None else None

    async def end(self, session_id: str) -> None:
        """The session ended (API or leader): notify and close every socket, on every process."""
        await self.masked.forget(session_id)
        self._orphans.pop(session_id, None)
        outcome, _ = await self.rooms.apply(session_id, lambda r: r.end(), expires_at=time.time())
        log.info("sync.end session=%s sockets=%d", session_id, len(outcome.closes))

    # ---- this process's sockets

    def counts(self) -> dict[str, int]:
        """Open sockets here, and messages in and out since the start (``proxy.metrics``)."""
        sockets = sum(len(local.outboxes) for local in self._local.values())
        return {"sockets": sockets, **self._messages}

    def holds(self, session_id: str, participant: str) -> bool:
        """Whether this process holds a socket of the participant in the session."""
        local = self._local.get(session_id)
        return local is not None and any(o.participant == participant for o in local.outboxes.values())

    def _dropped(self, session_id: str, conns: Iterable[str]) -> None:
        """Sockets here that the relay no longer holds: their pages reconnect (1013)."""
        local = self._local.get(session_id)
        for conn_id in conns:
            outbox = local.outboxes.get(conn_id) if local is not None else None
            if outbox is not None:
                log.warning("sync.dropped session=%s conn=%s", session_id, conn_id)
                outbox.put(CloseFrame(CLOSE_MISSED, "no longer in the relay: reconnect"))

    def _deliver(self, session_id: str, text: str) -> None:
        """A published outcome of the session: queue what is addressed to sockets here, in order."""
        local = self._local.get(session_id)
        if local is None:
            return
        delivery = Delivery.decode(text)
        before, local.n = local.n, delivery.numbered[1]
        if before is not None and delivery.numbered[0] > before:
            # Publications were lost (the pub/sub connection broke): this process's pages may have
            # missed numbered messages. They reconnect, and replay from their ``last``.
            log.warning("sync.missed session=%s from=%d to=%d", session_id, before, delivery.numbered[0])
            for missed in local.outboxes.values():
                missed.put(CloseFrame(CLOSE_MISSED, "messages missed: reconnect"))
            return
        for to, message in delivery.sends:
            for conn_id in to:
                outbox = local.outboxes.get(conn_id)
                if outbox is not None:
                    self._messages["out"] += 1
                    outbox.put(message)
        for conn_id, code, reason in delivery.closes:
            outbox = local.outboxes.get(conn_id)
            if outbox is not None:
                outbox.put(CloseFrame(code, reason))

    async def _enter(self, session_id: str) -> _Local:
        local = self._local.get(session_id)
        if local is None:
            subscribing = asyncio.ensure_future(
                self.rooms.shared.subscribe(channel(session_id), partial(self._deliver, session_id)))
            local = self._local[session_id] = _Local(subscribing)
        local.users += 1
        try:
            await asyncio.shield(local.subscribing)
        except BaseException:
            await self._leave(session_id, "")
            raise
        return local

    async def _leave(self, session_id: str, conn_id: str) -> None:
        local = self._local.get(session_id)
        if local is None:
            return
        local.outboxes.pop(conn_id, None)
        local.opened.discard(conn_id)
        local.users -= 1
        if local.users > 0:
            return
        del self._local[session_id]
        subscribing = local.subscribing
        if subscribing.done() and not subscribing.cancelled() and subscribing.exception() is None:
            with contextlib.suppress(*UNAVAILABLE):
                await subscribing.result().close()
        else:
            subscribing.cancel()

    def shutdown(self) -> None:
        """The server is stopping: tell every socket here (``restarting``, which the runtime shows
        while it reconnects), then close it with 1001."""
        for local in self._local.values():
            for outbox in local.outboxes.values():
                outbox.put(RESTARTING)
                outbox.put(CloseFrame(CLOSE_SHUTDOWN, "server shutting down"))
