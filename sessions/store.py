"""The session store seam: where sessions and their cookie jars live.

Every change to a session goes through ``update`` (an atomic read-modify-write) and every
use of a jar through ``with_jar``, so a backend that keeps state elsewhere (Redis, for
several server processes) can make each of them one transaction. ``MemoryStore`` is the
embedded default: one process, nothing to set up, state lost on exit.

Values round-trip through their serialised form (``encode``/``decode``: JSON text, as a remote
store keeps them) on every ``add``, ``get`` and ``update``, in ``MemoryStore`` too: an object
handed out is the caller's own copy, so a change made to it outside ``update`` is lost on every
backend alike, and such an aliasing bug cannot hide behind the default store. ``MemoryStore``
keeps the parsed JSON tree of that text (JSON types only), so a read costs ``Session.from_json``
and not a parse too; ``from_json`` must therefore build fresh containers, never keep a part of
its input (the store contract tests mutate what they get and read it again).

The store also answers the listing (``list``, paged by ``sessions.listing.page`` so every backend
agrees), keeps the ledger of idempotent creations (``sessions.idempotency``) and forgets ended
sessions once their retention has passed (``purge``).

Invariant: a function passed to ``update``/``with_jar`` must not await or keep the object it
is handed; it may run more than once on backends that retry on conflict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sessions.cookies import CookieJar
from sessions.idempotency import Claim, Fingerprint, Ledger
from sessions.lifecycle import ended_before
from sessions.listing import Page, SessionQuery, page
from sessions.model import Session

T = TypeVar("T")


def encode(session: Session) -> str:
    """A session as the store keeps it: compact JSON text."""
    return json.dumps(session.to_json(), separators=(",", ":"))


def decode(text: str | bytes) -> Session:
    """What ``encode`` wrote, as a fresh object."""
    return Session.from_json(json.loads(text))


def _tree(session: Session) -> dict[str, Any]:
    """The session's JSON tree as a remote store would hand it back: through the text."""
    tree: dict[str, Any] = json.loads(encode(session))
    return tree


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

    async def list(self, query: SessionQuery, now: float) -> Page:
        """One page of the sessions ``query`` matches, newest first (``sessions.listing``)."""
        ...

    async def claim_idempotency(self, key: str, print_: Fingerprint, now: float) -> Claim:
        """Claim ``key`` for a create (``sessions.idempotency.Ledger.claim``)."""
        ...

    async def settle_idempotency(self, key: str, body: str, now: float) -> None:
        """Keep the answer of the create that claimed ``key``."""
        ...

    async def release_idempotency(self, key: str) -> None:
        """Give up an unsettled claim (the create failed: a retry may try again)."""
        ...

    async def purge(self, cutoff: float, now: float) -> tuple[str, ...]:
        """Forget sessions that ended (or expired) before ``cutoff``, and their jars; their ids."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store: dicts keyed by session id, bounded by ``max_sessions``; sessions are kept
    as the parsed tree of their ``encode``d text (jars as objects: ``with_jar``'s function must
    not keep the jar).

    Ended sessions are kept (for their retention) only while there is room: when the store is
    full, the one that ended first makes way for a new session; only live sessions refuse one.
    """

    def __init__(self, max_sessions: int = 10_000, idempotency: Ledger | None = None) -> None:
        self._sessions: dict[str, dict[str, Any]] = {}
        self._jars: dict[str, CookieJar] = {}
        self._max_sessions = max_sessions
        self._ledger = idempotency if idempotency is not None else Ledger()

    async def add(self, session: Session) -> None:
        if len(self._sessions) >= self._max_sessions and not self._evict_ended(session.created_at):
            raise StoreFull(f"the server holds its maximum of {self._max_sessions} live sessions")
        self._sessions[session.id] = _tree(session)
        self._jars[session.id] = CookieJar()

    def _evict_ended(self, now: float) -> bool:
        ended = [s for s in map(Session.from_json, self._sessions.values()) if not s.is_live(now)]
        if not ended:
            return False
        oldest = min(ended, key=lambda s: s.ended_at if s.ended_at is not None else s.expires_at)
        del self._sessions[oldest.id]
        self._jars.pop(oldest.id, None)
        return True

    async def get(self, session_id: str) -> Session | None:
        tree = self._sessions.get(session_id)
        return None if tree is None else Session.from_json(tree)

    async def update(self, session_id: str, change: Callable[[Session], T]) -> T | None:
        tree = self._sessions.get(session_id)
        if tree is None:
            return None
        session = Session.from_json(tree)
        result = change(session)
        self._sessions[session_id] = _tree(session)
        return result

    async def with_jar(self, session_id: str, use: Callable[[CookieJar], T]) -> T:
        jar = self._jars.get(session_id)
        if jar is None:
            jar = self._jars[session_id] = CookieJar()
        return use(jar)

    async def drop_jar(self, session_id: str) -> None:
        self._jars.pop(session_id, None)

    async def list(self, query: SessionQuery, now: float) -> Page:
        return page(query, map(Session.from_json, self._sessions.values()), now)

    async def claim_idempotency(self, key: str, print_: Fingerprint, now: float) -> Claim:
        return self._ledger.claim(key, print_, now)

    async def settle_idempotency(self, key: str, body: str, now: float) -> None:
        self._ledger.settle(key, body, now)

    async def release_idempotency(self, key: str) -> None:
        self._ledger.release(key)

    async def purge(self, cutoff: float, now: float) -> tuple[str, ...]:
        # Ended sessions are kept until the cutoff so the API describes them and their hosts
        # answer 410 rather than 404.
        dead = [sid for sid, tree in self._sessions.items()
                if ended_before(Session.from_json(tree), cutoff, now)]
        for sid in dead:
            del self._sessions[sid]
            self._jars.pop(sid, None)
        return tuple(dead)

    async def close(self) -> None:
        self._sessions.clear()
        self._jars.clear()


class StoreFull(Exception):
    """The store refuses new sessions (capacity)."""
