"""Listing sessions: the query the API's ``GET /api/v1/sessions`` takes, its order and its cursor.

Order: newest first, by the key ``(created_at, id)``, which no two sessions share. A page holds
the first ``limit`` matching sessions whose key lies below the cursor's; the next cursor is the
last one's key. So pagination is stable under concurrent creation: a session created while a
client pages has a key above every cursor handed out (or, on an equal clock, is placed by its id),
and every session that exists throughout is returned exactly once.

The cursor is opaque to clients (base64url of the key); a cursor that does not decode is refused
with a message naming ``cursor``. ``parse_query`` reads the query string strictly, naming the
parameter at fault. Every backend pages with ``page`` so they agree. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sessions.lifecycle import STATUSES, status
from sessions.model import Session
from sessions.strict import refuse_unknown

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
MAX_AGENT_CHARS: Final = 200
PARAMETERS: Final = ("status", "agent", "created_after", "created_before", "limit", "cursor")

Key = tuple[float, str]


@dataclass(frozen=True, slots=True)
class SessionQuery:
    status: str | None = None
    agent: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    limit: int = DEFAULT_LIMIT
    below: Key | None = None  # the cursor: only sessions whose key is below it


@dataclass(frozen=True, slots=True)
class Page:
    sessions: list[Session]
    next_cursor: str | None


def key(session: Session) -> Key:
    return (session.created_at, session.id)


def agent_id(session: Session) -> str:
    """The agent's own id for the session (the leader's ``external_id``), "" when none was given."""
    leader = session.participants.get(session.leader_id)
    return leader.external_id if leader is not None else ""


def matches(query: SessionQuery, session: Session, now: float) -> bool:
    return ((query.status is None or status(session, now) == query.status)
            and (query.agent is None or agent_id(session) == query.agent)
            and (query.created_after is None or _micros(session.created_at) > _micros(query.created_after))
            and (query.created_before is None or _micros(session.created_at) < _micros(query.created_before))
            and (query.below is None or key(session) < query.below))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(ts: float) -> int:
    """Instants compared as the API writes them: to the microsecond, rounded as ``datetime`` rounds
    (``round(ts * 1e6)`` differs from it now and then, and a session then fell on the wrong side of
    its own ``created_at``)."""
    return (datetime.fromtimestamp(ts, UTC) - _EPOCH) // _MICROSECOND


def page(query: SessionQuery, sessions: Iterable[Session], now: float) -> Page:
    """The page ``query`` asks for out of ``sessions`` (any order, each once)."""
    # The limit + 1 newest matches: one more than the page says whether another page follows.
    found = heapq.nlargest(query.limit + 1, (s for s in sessions if matches(query, s, now)), key=key)
    kept = found[:query.limit]
    more = len(found) > query.limit
    return Page(kept, encode_cursor(key(kept[-1])) if more and kept else None)


def encode_cursor(at: Key) -> str:
    raw = json.dumps([at[0], at[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    refusal = ValueError('"cursor" is not a cursor this server gave: pass "next_cursor" from the previous '
                         'page unchanged, or leave it out to start from the newest session')
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refusal from None
    valid = (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
             and not isinstance(value[0], bool) and isinstance(value[1], str))
    if not valid:
        raise refusal
    return (float(value[0]), value[1])


def parse_instant(name: str, text: str) -> float:
    """An ISO 8601 date-time as a POSIX time; one without an offset is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        raise ValueError(f'"{name}" must be an ISO 8601 date-time such as "2026-01-31T09:30:00Z"') from None


def _limit(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f'"limit" must be a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})')
    return int(text)


def parse_query(params: Mapping[str, str]) -> SessionQuery:
    """The listing query of a request's query string, strictly."""
    refuse_unknown("the query", params, PARAMETERS, "parameter")
    state = params.get("status")
    if state is not None and state not in STATUSES:
        raise ValueError(f'"status" must be one of {", ".join(STATUSES)}')
    agent = params.get("agent")
    if agent is not None and not 0 < len(agent) <= MAX_AGENT_CHARS:
        raise ValueError(f'"agent" must be an agent id of 1 to {MAX_AGENT_CHARS} characters')
    after = params.get("created_after")
    before = params.get("created_before")
    cursor = params.get("cursor")
    return SessionQuery(status=state, agent=agent,
                        created_after=None if after is None else parse_instant("created_after", after),
                        created_before=None if before is None else parse_instant("created_before", before),
                        limit=_limit(params["limit"]) if "limit" in params else DEFAULT_LIMIT,
                        below=None if cursor is None else decode_cursor(cursor))
