"""Ending a session: one function, whoever ends it (REST ``DELETE``, the leader's ``end``, or
its lifetime running out).

After it, the session's hosts answer 410 (with ``Clear-Site-Data``, see ``proxy.visit.ended_page``),
its cookies and recorded responses are gone (waiting followers are woken), and every sync
socket has been sent ``ended`` and closed.

``Expiries`` ends each session created here when its ``expires_at`` passes: without it an
expired session would answer 410 to new requests while its open sync sockets lived on.
Limit: a timer lives in the process that created the session (with several nodes sharing a
Redis store, a socket on another node closes at its next admission check, not on the dot).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from proxy import audit
from proxy.keys import RESPONSES, SERVICE, STORE, SYNC
from proxy.presence import PRESENCE
from sessions.model import Session

log = logging.getLogger("cobrowse.sessions")


async def end_session(app: web.Application, session_id: str, now: float, by: str) -> Session | None:
    ended = await app[SERVICE].end(session_id, now)
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


class Expiries:
    """One timer per live session: at ``expires_at`` the session is ended like any other end.

    Invariants: at most one timer per session id; a fired or forgotten timer is gone from
    ``_timers``; every task it starts is referenced until done; ``close`` cancels all.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def watch(self, session_id: str, expires_at: float) -> None:
        self.forget(session_id)
        delay = max(0.0, expires_at - time.time())
        self._timers[session_id] = asyncio.get_running_loop().call_later(delay, self._fire, session_id)

    def forget(self, session_id: str) -> None:
        timer = self._timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()

    def _fire(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        task = asyncio.ensure_future(self._expire(session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, session_id: str) -> None:
        session = await self._app[STORE].get(session_id)
        if session is None or session.ended_at is not None:
            return
        await end_session(self._app, session_id, time.time(), by="expiry")


EXPIRIES = web.AppKey("expiries", Expiries)
