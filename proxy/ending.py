"""Ending a session: one function, whoever ends it (REST ``DELETE``, the leader's ``end``, its
lifetime running out, or nobody using it for its idle timeout).

After it, the session's hosts answer 410 (with ``Clear-Site-Data``, see ``proxy.visit.ended_page``),
its cookies and recorded responses are gone (waiting followers are woken), every sync socket has
been sent ``ended`` and closed, and the session names why it ended (``ended_reason``, one of
``sessions.lifecycle.END_REASONS``; the first reason given is kept).

``Expiries`` ends each session created here when its ``expires_at`` passes or when it has been
idle (no proxied request, no sync message: ``touch``) for its idle timeout. One timer per
session, set for the earlier of the two; ``touch`` only notes the time, and a timer that fires
early for idleness looks again and sets itself for the new deadline, so busy sessions cost no
timer churn. Limit: a timer lives in the process that created the session (with several nodes
sharing a Redis store, a socket on another node closes at its next admission check, not on the
dot, and activity seen only by another node does not keep the session alive here).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from proxy import audit
from proxy.keys import RESPONSES, SERVICE, STORE, SYNC
from proxy.presence import PRESENCE
from sessions.model import Session

log = logging.getLogger("cobrowse.sessions")


async def end_session(app: web.Application, session_id: str, now: float, by: str) -> Session | None:
    """End the session for reason ``by`` (``sessions.lifecycle.END_REASONS``)."""
    ended = await app[SERVICE].end(session_id, now)
    if ended is not None:
        def give_reason(session: Session) -> Session:
            session.ended_reason = session.ended_reason or by
            return session

        ended = await app[STORE].update(session_id, give_reason)
    await app[STORE].drop_jar(session_id)
    app[RESPONSES].drop(session_id)
    app[SYNC].end(session_id)
    if EXPIRIES in app:
        app[EXPIRIES].forget(session_id)
    if PRESENCE in app:
        app[PRESENCE].end(session_id)
    log.info("session.ended session=%s by=%s", session_id, by)
    audit.event(app, session_id, "", "ended", by=by)
    return ended


@dataclass(slots=True)
class _Watch:
    expires_at: float
    idle_timeout: float  # 0: never idles out
    last_active: float
    timer: asyncio.TimerHandle | None = None

    def deadline(self) -> tuple[float, str]:
        """When the session ends if nothing happens, and why."""
        if self.idle_timeout and self.last_active + self.idle_timeout < self.expires_at:
            return self.last_active + self.idle_timeout, "idle"
        return self.expires_at, "expired"


class Expiries:
    """One timer per live session: at ``expires_at``, or after ``idle_timeout`` seconds without a
    ``touch``, the session is ended like any other end.

    Invariants: at most one timer per session id; a fired or forgotten watch is gone from
    ``_watches``; every task it starts is referenced until done; ``close`` cancels all.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def watch(self, session_id: str, expires_at: float, idle_timeout: float = 0.0) -> None:
        self.forget(session_id)
        self._watches[session_id] = watch = _Watch(expires_at, idle_timeout, time.time())
        self._arm(session_id, watch)

    def touch(self, session_id: str) -> None:
        """Something happened in the session (a proxied request, a sync message)."""
        watch = self._watches.get(session_id)
        if watch is not None:
            watch.last_active = time.time()

    def forget(self, session_id: str) -> None:
        watch = self._watches.pop(session_id, None)
        if watch is not None and watch.timer is not None:
            watch.timer.cancel()

    def close(self) -> None:
        for watch in self._watches.values():
            if watch.timer is not None:
                watch.timer.cancel()
        self._watches.clear()
        for task in self._tasks:
            task.cancel()

    def _arm(self, session_id: str, watch: _Watch) -> None:
        at, _ = watch.deadline()
        delay = max(0.0, at - time.time())
        watch.timer = asyncio.get_running_loop().call_later(delay, self._fire, session_id)

    def _fire(self, session_id: str) -> None:
        watch = self._watches.get(session_id)
        if watch is None:
            return
        at, reason = watch.deadline()
        if at > time.time():  # touched since the timer was set: look again at the new deadline
            self._arm(session_id, watch)
            return
        del self._watches[session_id]
        task = asyncio.ensure_future(self._end(session_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end(self, session_id: str, reason: str) -> None:
        session = await self._app[STORE].get(session_id)
        if session is None or session.ended_at is not None:
            return
        await end_session(self._app, session_id, time.time(), by=reason)


EXPIRIES = web.AppKey("expiries", Expiries)
