"""The app's registry of sync rooms: per session, its relay core and the open sync sockets.

A room is created when the first sync socket of a session opens and lives until the session
ends (or expires: rooms of expired sessions are swept when a new room is made), so a moment
with no socket open (the leader alone, between two pages) loses no state.

Every socket has an ``Outbox``: messages are queued synchronously, in the order the relay
produced them, and one writer task per socket sends them. That keeps ``n`` in order on the
wire even when several handlers fan out at once. A socket whose outbox overflows (a reader
that stopped reading) is closed with 1013; it reconnects and catches up from state.

A participant may hold at most ``SOCKETS_PER_PARTICIPANT`` sockets in a room at once (its
pages and windows; a reload closes one before it opens the next): ``attach`` refuses the one
over the cap, so one browser cannot make the server hold hundreds of sockets and outboxes.

Kept apart from ``proxy/syncws.py`` (the endpoint) so that ``proxy/keys.py`` can name the type
without an import cycle.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sessions.model import Session
from sessions.protocol import CLOSE_TOO_SLOW
from sessions.relay import Close, ControlRules, Outcome, Relay

log = logging.getLogger("cobrowse.sync")
OUTBOX_LIMIT = 4000
SOCKETS_PER_PARTICIPANT = 16
CLOSE_SHUTDOWN = 1001
MAX_MASKED_PER_SESSION = 512
RESTARTING = '{"type":"restarting"}'  # a server message (no ``n``): the server is going away, reconnect


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
class Room:
    relay: Relay
    expires_at: float
    outboxes: dict[str, Outbox] = field(default_factory=dict)


class SyncHub:
    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._ids = itertools.count(1)
        # Per session: the names of the fields the controller's page masks (``privacy`` messages),
        # read by the audit trail's body redaction; forgotten when the session ends.
        self._masked: dict[str, frozenset[str]] = {}
        self._messages = {"in": 0, "out": 0}  # for /metrics (proxy.metrics): received, and queued per socket

    def note_masked(self, session_id: str, names: frozenset[str]) -> frozenset[str]:
        """Add the masked-field names a page reported (at most ``MAX_MASKED_PER_SESSION`` kept);
        returns the names that were new."""
        known = self._masked.get(session_id, frozenset())
        added = frozenset(sorted(names - known)[:max(0, MAX_MASKED_PER_SESSION - len(known))])
        if added:
            self._masked[session_id] = known | added
        return added

    def masked_names(self, session_id: str) -> frozenset[str]:
        return self._masked.get(session_id, frozenset())

    def room_for(self, session: Session, initial_url: str, now: float) -> Room:
        room = self._rooms.get(session.id)
        if room is None:
            self._sweep(now)
            rules = ControlRules(view_only=session.options.view_only, consent=session.options.consent)
            relay = Relay(session.id, session.leader_id, session.controller, initial_url,
                          session.end_redirect_url, rules=rules)
            room = self._rooms[session.id] = Room(relay, session.expires_at)
        return room

    def attach(self, room: Room, participant: str,
               cap: int = SOCKETS_PER_PARTICIPANT) -> tuple[str, Outbox] | None:
        """A new socket's id and outbox, or None when ``participant`` already holds ``cap``."""
        if sum(1 for o in room.outboxes.values() if o.participant == participant) >= cap:
            return None
        conn_id = f"c{next(self._ids)}"
        outbox = room.outboxes[conn_id] = Outbox(participant)
        return conn_id, outbox

    def detach(self, room: Room, conn_id: str) -> None:
        room.outboxes.pop(conn_id, None)

    def received(self) -> None:
        """A page's message passed the protocol's checks and went to the relay."""
        self._messages["in"] += 1

    def counts(self) -> dict[str, int]:
        """Open sockets, and messages in and out since the start (``proxy.metrics``)."""
        sockets = sum(len(room.outboxes) for room in self._rooms.values())
        return {"sockets": sockets, **self._messages}

    def dispatch(self, room: Room, outcome: Outcome) -> None:
        """Queue what the relay decided, in order; serialise each message once."""
        for send in outcome.sends:
            text = json.dumps(send.message, separators=(",", ":"), ensure_ascii=False)
            self._messages["out"] += len(send.to)
            for conn_id in send.to:
                outbox = room.outboxes.get(conn_id)
                if outbox is not None:
                    outbox.put(text)
        for close in outcome.closes:
            self._close(room, close)

    def _close(self, room: Room, close: Close) -> None:
        outbox = room.outboxes.get(close.conn)
        if outbox is not None:
            outbox.put(CloseFrame(close.code, close.reason))

    def announce(self, session: Session, url: str, now: float, mono: float) -> None:
        """The driver's main window loaded ``url``, a page with no runtime to say so: tell the
        followers (and keep it in the state a late joiner lands on)."""
        room = self.room_for(session, session.target_url, now)
        self.dispatch(room, room.relay.announce(url, mono))

    def current_url(self, session_id: str) -> str:
        room = self._rooms.get(session_id)
        return room.relay.current_url if room is not None else ""

    def counters(self, session_id: str) -> dict[str, Any] | None:
        room = self._rooms.get(session_id)
        return room.relay.counters() if room is not None else None

    def end(self, session_id: str) -> None:
        """The session ended (API or leader): notify and close every socket, forget the room."""
        self._masked.pop(session_id, None)
        room = self._rooms.pop(session_id, None)
        if room is None:
            return
        self.dispatch(room, room.relay.end())
        log.info("sync.end session=%s sockets=%d", session_id, len(room.outboxes))

    def shutdown(self) -> None:
        """The server is stopping: tell every socket (``restarting``, which the runtime shows while
        it reconnects), then close it with 1001."""
        for room in self._rooms.values():
            for outbox in room.outboxes.values():
                outbox.put(RESTARTING)
                outbox.put(CloseFrame(CLOSE_SHUTDOWN, "server shutting down"))
        self._rooms.clear()

    def _sweep(self, now: float) -> None:
        for sid in [sid for sid, room in self._rooms.items() if room.expires_at < now and not room.outboxes]:
            del self._rooms[sid]
