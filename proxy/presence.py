"""Presence in the audit trail: when a participant left the session, and when it came back.

A participant is in the session while it holds a sync socket (one per page it has open). Pages
close their socket on every navigation and reload and the next page opens a new one within a
moment, so a participant ``left`` only when its last socket closed and none reopened within
``LEAVE_GRACE`` seconds; the event carries the time the last socket closed. One that opens a
socket after that is back: a ``joined`` event with ``again``. (The first ``joined`` is noted
where the participant is admitted: ``proxy.control``, ``proxy.join``.) A participant removed
from the session (``removed``) is noted as removed by the API, never as having left.
The participants API reads ``away``: a participant that left shows as ``left`` until it is back.

Invariants: at most one pending timer per (session, participant); every timer is cancelled when
its session ends (``end``) or the server stops (``close``), so nothing is noted for a session
after its ``ended`` event.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from proxy import audit
from sessions.model import Participant

LEAVE_GRACE = 10.0
ENDED_KEPT = 10_000
_Key = tuple[str, str]  # (session id, participant id)


class Presence:
    def __init__(self, app: web.Application, grace: float | None = None) -> None:
        self._app = app
        self._grace = LEAVE_GRACE if grace is None else grace
        self._timers: dict[_Key, asyncio.TimerHandle] = {}
        self._away: set[_Key] = set()
        self._ended: dict[str, None] = {}  # recently ended sessions, oldest first (their sockets close after)

    def opened(self, session_id: str, participant: Participant) -> None:
        """A sync socket of ``participant`` opened."""
        key = (session_id, participant.id)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._away:
            self._away.discard(key)
            audit.event(self._app, session_id, participant.id, "joined", role=participant.role,
                        name=participant.name, again="yes")

    def closed(self, session_id: str, participant_id: str, *, still_open: bool) -> None:
        """A sync socket of the participant closed; ``still_open``: it holds another."""
        key = (session_id, participant_id)
        if still_open or key in self._timers or key in self._away or session_id in self._ended:
            return
        self._timers[key] = asyncio.get_running_loop().call_later(self._grace, self._left, key, time.time())

    def away(self, session_id: str, participant_id: str) -> bool:
        """Whether the participant left (its last socket closed, none reopened within the grace)."""
        return (session_id, participant_id) in self._away

    def removed(self, session_id: str, participant_id: str) -> None:
        """The participant was removed: its sockets close now, and no ``left`` follows."""
        key = (session_id, participant_id)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._away.add(key)

    def end(self, session_id: str) -> None:
        """The session ended: nothing more is noted for it (its sockets are closed after this)."""
        self._ended[session_id] = None
        while len(self._ended) > ENDED_KEPT:
            del self._ended[next(iter(self._ended))]
        for key in [k for k in self._timers if k[0] == session_id]:
            self._timers.pop(key).cancel()
        self._away = {k for k in self._away if k[0] != session_id}

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _left(self, key: _Key, at: float) -> None:
        self._timers.pop(key, None)
        self._away.add(key)
        session_id, participant_id = key
        audit.event(self._app, session_id, participant_id, "left", at=at)


PRESENCE = web.AppKey("presence", Presence)
