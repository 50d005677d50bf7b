"""How the REST API describes a session (the ``Session`` schema of the OpenAPI document).

``id``, ``url``, ``status`` (live | ended), ``ended_reason`` (null while live; else one of
``sessions.lifecycle.END_REASONS``), ``agent {id, name}``, ``created_at``, ``expires_at``,
``ended_at`` (ISO 8601, UTC), ``participants`` (as ``proxy.api_participants.participant_json``
describes them), ``controller``, ``options``, ``metadata``. No secret ever appears here (tickets,
invitations and credentials are digests in the store and never described).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from proxy.api_participants import participant_json
from sessions.lifecycle import end_reason, ended_at, status
from sessions.model import Session


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def describe(app: web.Application, session: Session, now: float) -> dict[str, Any]:
    options = session.options.to_json()
    metadata = options.pop("metadata")
    leader = session.participants.get(session.leader_id)
    live = session.is_live(now)
    return {
        "id": session.id,
        "url": session.target_url,
        "status": status(session, now),
        "ended_reason": end_reason(session, now),
        "agent": {"id": leader.external_id if leader else "", "name": leader.name if leader else ""},
        "created_at": iso(session.created_at),
        "expires_at": iso(session.expires_at),
        "ended_at": None if live else iso(ended_at(session)),
        "participants": [participant_json(app, session, p) for p in session.participants.values()],
        "controller": session.controller,
        "options": options,
        "metadata": metadata,
    }
