"""Integration events: what webhooks and the event stream tell integrators, made from session events.

Every session event passes ``proxy.audit.event`` under an audit name (``sessions.audit_record.EVENTS``).
``TRANSLATIONS`` says which of them integrators see and as which type; ``translate`` builds the
event's ``data`` from the audit details and the session as the store holds it (for a
participant's role and name). An ``Event`` is ``id``, ``type``, ``created_at``, ``session_id``
and ``data``.

Invariants:
- ``data`` is built from an allow-list of fields per type: never a link, a ticket, an
  invitation, a cookie or a credential, whatever an audit event carries.
- Event ids are unique and sort in the order ``EventIds`` made them (the time in milliseconds,
  then a counter, then a random tag of the process that made them), so a stream can resume
  "after" an id and a receiver can order what it got.
- Control events that leave control where it is (a request, a decline) are not ``control.changed``.
Pure: no I/O; the time is an argument.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sessions.model import Session

# Integration event types and what each means (docs/webhooks.md lists them too).
EVENT_TYPES: Mapping[str, str] = {
    "session.created": "a session was created (url, agent)",
    "participant.waiting": "a visitor asked to join a session that requires approval (participant)",
    "participant.joined": "a participant entered the session, or came back after leaving (participant, rejoined)",
    "participant.left": "a participant's last page closed and none came back within the grace (participant)",
    "participant.removed": "a participant was removed, or a waiting visitor declined (participant, by, reason)",
    "control.changed": "control passed to another participant (controller, action, by)",
    "session.ended": "the session ended (reason: api, leader, expired, idle)",
}

# Control actions that leave control where it was: not a change.
CONTROL_STAYS = frozenset({"requested", "declined"})
KEY_OF_OLD_SESSIONS = "default"  # sessions stored before the creating key was recorded


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    created_at: float
    session_id: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.created_at, UTC).isoformat(timespec="milliseconds")
        return {"id": self.id, "type": self.type, "created_at": when.replace("+00:00", "Z"),
                "session_id": self.session_id, "data": dict(self.data)}


@dataclass(frozen=True, slots=True)
class Noted:
    """A session event as ``proxy.audit.event`` saw it, before translation."""

    session_id: str
    participant: str
    name: str
    at: float
    detail: Mapping[str, str]
    id: str


def owner_key(session: Session | None) -> str:
    """The API key whose webhooks and stream get the session's events."""
    return (session.api_key_id if session is not None else "") or KEY_OF_OLD_SESSIONS


def _someone(session: Session | None, participant_id: str) -> dict[str, Any] | None:
    if not participant_id:
        return None
    found = session.participants.get(participant_id) if session is not None else None
    if found is None:
        return {"id": participant_id}
    return {"id": found.id, "role": found.role, "name": found.name}


def _created(noted: Noted, session: Session | None) -> dict[str, Any]:
    leader = session.participants.get(session.leader_id) if session is not None else None
    if leader is None:
        return {"url": noted.detail.get("url", ""), "agent": {"id": noted.detail.get("agent", "")}}
    agent = {"id": leader.external_id, "name": leader.name}
    return {"url": noted.detail.get("url", ""), "agent": agent}


def _participant(noted: Noted, session: Session | None) -> dict[str, Any]:
    return {"participant": _someone(session, noted.participant)}


def _joined(noted: Noted, session: Session | None) -> dict[str, Any]:
    return {**_participant(noted, session), "rejoined": noted.detail.get("again") == "yes"}


def _removed(noted: Noted, session: Session | None) -> dict[str, Any]:
    extra = {k: noted.detail[k] for k in ("by", "reason") if k in noted.detail}
    return {**_participant(noted, session), **extra}


def _control(noted: Noted, session: Session | None) -> dict[str, Any]:
    return {"controller": _someone(session, noted.detail.get("controller", "")),
            "action": noted.detail.get("action", ""), "by": _someone(session, noted.detail.get("by", ""))}


def _ended(noted: Noted, session: Session | None) -> dict[str, Any]:
    return {"reason": noted.detail.get("by", "")}


Build = Callable[[Noted, Session | None], dict[str, Any]]

# audit name -> (integration type, what its data holds). Audit names not here are not published.
TRANSLATIONS: Mapping[str, tuple[str, Build]] = {
    "created": ("session.created", _created),
    "waiting": ("participant.waiting", _participant),
    "joined": ("participant.joined", _joined),
    "left": ("participant.left", _participant),
    "removed": ("participant.removed", _removed),
    "control": ("control.changed", _control),
    "ended": ("session.ended", _ended),
}


def published(name: str, detail: Mapping[str, str]) -> bool:
    """Whether the audit event ``name`` becomes an integration event (decided before any lookup)."""
    if name not in TRANSLATIONS:
        return False
    return not (name == "control" and detail.get("action", "") in CONTROL_STAYS)


def translate(noted: Noted, session: Session | None) -> Event | None:
    """The integration event for ``noted`` (``session`` as the store holds it, None once purged)."""
    if not published(noted.name, noted.detail):
        return None
    kind, build = TRANSLATIONS[noted.name]
    return Event(noted.id, kind, noted.at, noted.session_id, build(noted, session))


class EventIds:
    """Unique ids that sort in the order they were made: ``evt_`` + milliseconds (12 hex) +
    counter (8 hex) + this process's tag (6 hex). The milliseconds never go back (a clock set
    back keeps the last value), so the order holds in one process; across processes ids sort by
    time, and the tag keeps them apart."""

    def __init__(self, tag: str | None = None) -> None:
        self._tag = tag or secrets.token_hex(3)
        self._ms = 0
        self._count = 0

    def next(self, at: float) -> str:
        self._ms = max(self._ms, int(at * 1000))
        self._count += 1
        return f"evt_{self._ms:012x}{self._count:08x}{self._tag}"
