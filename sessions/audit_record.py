"""What the audit trail records, and the one canonical byte form each record is sealed in.

Two kinds of record, both attributed to a participant (its id; "" when no participant is
known, e.g. a server-side expiry):

- ``Exchange``: one proxied HTTP exchange, written when its answer is complete (a streamed
  body: when the stream ends or breaks). ``path`` says how the participant was answered:
  ``upstream`` (the driver's request went to the target), ``store`` (a follower served from the
  driver's recorded response) or ``proxy`` (cobrowse answered itself, e.g. an upload over the
  limit). ``status`` is what the participant got; ``target_status`` what the target answered
  (0 when it was not reached). ``request_headers`` are the headers sent upstream on the
  ``upstream`` path and the participant's browser's as received on the others;
  ``response_headers`` are the target's as received. Both are enough to build HAR and
  mitmproxy flows from; ``request_body``/``response_body`` hold bodies when the server is
  configured to keep them (empty otherwise): decoded from their Content-Encoding, redacted
  (``sessions.audit_bodies``), cut at the configured size (``*_truncated`` then says so).
- ``Event``: something that happened to the session (``EVENTS``), with string details.

Invariants: a record's ``encode`` is canonical (keys sorted, no spaces, UTF-8), so the same
record always seals to the same plaintext; ``decode(encode(r)) == r``. Records are redacted
(``sessions.audit_redaction``) before they are encoded for storage; ``redacted`` names what was
taken out, never the values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Headers = tuple[tuple[str, str], ...]

PATHS = frozenset({"upstream", "store", "proxy"})

# Session events, by name: what each means (the records' ``detail`` keys in brackets).
EVENTS: Mapping[str, str] = {
    "created": "an agent created the session (url, agent)",
    "joined": "a participant redeemed a link or joined through the invitation (role, name)",
    "left": "a participant left the session",
    "waiting": "a visitor asked to join a session that requires approval and waits for the agent (role, name)",
    "approved": "the agent let a waiting visitor in (by)",
    "removed": "a participant was removed from the session, or a waiting visitor declined (by, reason)",
    "control": "control was requested, granted, taken, returned or declined (action, by; controller: who has it "
               "after)",
    "navigation": "the driver's top-level page changed (url)",
    "policy": "a request was refused by the target policy or the address guard (rule, reason, url)",
    "privacy": "the names of the fields the session's pages mask changed (names, comma-separated; never values)",
    "websocket": "a target WebSocket opened or closed (phase, url, path: upstream for the driver's, store for a "
                 "follower's copy; at close: code, up_/down_messages and up_/down_bytes, up being what the "
                 "participant's browser sent)",
    "ended": "the session ended (by)",
    "exported": "the audit trail was exported (format)",
    "lost": "the audit queue was full and records were dropped (count): the trail says so",
}


@dataclass(frozen=True, slots=True)
class Exchange:
    time: float
    participant: str
    path: str
    method: str
    url: str
    status: int
    target_status: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    wait_ms: float = 0.0  # until the answer's head: from the target, or matched in the store
    total_ms: float = 0.0  # until the last byte went to the participant
    content_type: str = ""
    location: str = ""  # the target's redirect target, as it sent it
    request_headers: Headers = ()
    response_headers: Headers = ()
    request_body: bytes = b""
    response_body: bytes = b""
    request_truncated: bool = False  # the kept body is the first --audit-bodies bytes of a longer one
    response_truncated: bool = False
    navigation: bool = False  # a top-level page load
    error: str = ""  # why the exchange did not complete (a refusal, a broken transfer)
    redacted: tuple[str, ...] = ()
    kind: str = field(default="exchange", init=False)


@dataclass(frozen=True, slots=True)
class Event:
    time: float
    participant: str
    name: str
    detail: tuple[tuple[str, str], ...] = ()
    redacted: tuple[str, ...] = ()
    kind: str = field(default="event", init=False)

    def get(self, key: str) -> str:
        return next((v for k, v in self.detail if k == key), "")


Record = Exchange | Event


def event(time: float, participant: str, name: str, /, **detail: str) -> Event:
    if name not in EVENTS:
        raise ValueError(f"unknown audit event {name!r}")
    return Event(time, participant, name, tuple(sorted(detail.items())))


def to_json(record: Record) -> dict[str, Any]:
    """The record as JSON data (bodies base64, headers as [name, value] pairs)."""
    if isinstance(record, Event):
        return {"kind": "event", "time": record.time, "participant": record.participant, "name": record.name,
                "detail": dict(record.detail), "redacted": list(record.redacted)}
    out: dict[str, Any] = {name: getattr(record, name) for name in _EXCHANGE_FIELDS}
    out["request_headers"] = [list(h) for h in record.request_headers]
    out["response_headers"] = [list(h) for h in record.response_headers]
    out["request_body"] = base64.b64encode(record.request_body).decode("ascii")
    out["response_body"] = base64.b64encode(record.response_body).decode("ascii")
    out["redacted"] = list(record.redacted)
    return out


def from_json(data: Mapping[str, Any]) -> Record:
    kind = data.get("kind")
    if kind == "event":
        return Event(float(data["time"]), str(data["participant"]), str(data["name"]),
                     tuple(sorted((str(k), str(v)) for k, v in dict(data.get("detail", {})).items())),
                     tuple(str(r) for r in data.get("redacted", ())))
    if kind != "exchange":
        raise ValueError(f"unknown record kind {kind!r}")
    values = {name: data[name] for name in _EXCHANGE_FIELDS if name in data and name != "kind"}
    return Exchange(
        **values,
        request_headers=_headers(data.get("request_headers", ())),
        response_headers=_headers(data.get("response_headers", ())),
        request_body=base64.b64decode(data.get("request_body", "")),
        response_body=base64.b64decode(data.get("response_body", "")),
        redacted=tuple(str(r) for r in data.get("redacted", ())),
    )


def encode(record: Record) -> bytes:
    """The canonical bytes of a record: what is encrypted and chained."""
    return json.dumps(to_json(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(raw: bytes) -> Record:
    return from_json(json.loads(raw))


def _headers(pairs: Any) -> Headers:
    return tuple((str(k), str(v)) for k, v in pairs)


# Exchange fields carried as plain JSON values (the rest are converted in to_json/from_json).
_EXCHANGE_FIELDS = ("kind", "time", "participant", "path", "method", "url", "status", "target_status",
                    "request_bytes", "response_bytes", "wait_ms", "total_ms", "content_type", "location",
                    "navigation", "error", "request_truncated", "response_truncated")
