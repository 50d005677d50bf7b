"""The session store seam: where sessions and their cookie jars live.

Every change to a session goes through ``update`` (an atomic read-modify-write) and every
use of a jar through ``with_jar``, so a backend that keeps state elsewhere (Redis, for
several server processes) can make each of them one transaction. ``MemoryStore`` is the
embedded default: one process, nothing to set up, state lost on exit.

Invariant: a function passed to ``update``/``with_jar`` must not await or keep the object it
is handed; it may run more than once on backends that retry on conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sessions.cookies import CookieJar
from sessions.model import Session

T = TypeVar("T")


class SessionStore(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def update(self, session_id: str, change: Callable[[Session], T]) -> T | None:
        """Apply ``change`` atomically; None when there is no such session."""
        ...

    async def with_jar(self, session_id: str, use: Callable[[CookieJar], T]) -> T: ...

    async def drop_jar(self, session_id: str) -> None:
        """Forget a session's cookies (when it ends: they are the visitor's secrets)."""
        ...

    async def purge(self, now: float) -> int:
        """Forget sessions that ended or expired before ``now``; how many were dropped."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store: dicts keyed by session id, bounded by ``max_sessions``."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._sessions: dict[str, Session] = {}
        self._jars: dict[str, CookieJar] = {}
        self._max_sessions = max_sessions

    async def add(self, session: Session) -> None:
        if len(self._sessions) >= self._max_sessions:
            raise StoreFull(f"the server holds its maximum of {self._max_sessions} sessions")
        self._sessions[session.id] = session
        self._jars[session.id] = CookieJar()

    async def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def update(self, session_id: str, change: Callable[[Session], T]) -> T | None:
        session = self._sessions.get(session_id)
        return None if session is None else change(session)

    async def with_jar(self, session_id: str, use: Callable[[CookieJar], T]) -> T:
        jar = self._jars.get(session_id)
        if jar is None:
            jar = self._jars[session_id] = CookieJar()
        return use(jar)

    async def drop_jar(self, session_id: str) -> None:
        self._jars.pop(session_id, None)

    async def purge(self, now: float) -> int:
        # Ended sessions are kept for a while so their hosts can answer 410 rather than 404.
        grace = 3600.0
        dead = [sid for sid, s in self._sessions.items()
                if (s.ended_at is not None and s.ended_at + grace < now) or s.expires_at + grace < now]
        for sid in dead:
            del self._sessions[sid]
            self._jars.pop(sid, None)
        return len(dead)

    async def close(self) -> None:
        self._sessions.clear()
        self._jars.clear()


class StoreFull(Exception):
    """The store refuses new sessions (capacity)."""
