"""Ending a session: one function, whoever ends it (REST ``DELETE`` or the leader's ``end``).

After it, the session's hosts answer 410, its cookies and recorded responses are gone
(waiting followers are woken), and every sync socket has been sent ``ended`` and closed.
"""

from __future__ import annotations

import logging

from aiohttp import web

from proxy.keys import RESPONSES, SERVICE, STORE, SYNC
from sessions.model import Session

log = logging.getLogger("cobrowse.sessions")


async def end_session(app: web.Application, session_id: str, now: float, by: str) -> Session | None:
    ended = await app[SERVICE].end(session_id, now)
    await app[STORE].drop_jar(session_id)
    app[RESPONSES].drop(session_id)
    app[SYNC].end(session_id)
    log.info("session.ended session=%s by=%s", session_id, by)
    return ended
