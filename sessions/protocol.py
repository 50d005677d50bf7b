"""The sync protocol's client messages as data: which types exist, which fields each carries,
which are input (controller only), and how a text frame becomes a checked ``Inbound``.

``docs/sync-protocol.md`` is the contract; the tables below are its machine-readable half and
must stay in step with it. Everything here is pure: text in, value or ``ProtocolError`` out.

Invariants:
- an ``Inbound`` has a known ``type``, a ``seq`` >= 1 (0 only for ``hello``, which has none),
  and every field named in ``FIELDS`` for its type has the declared shape;
- the fields a server adds (``n``, ``from``) and ``seq`` never survive into ``Inbound.fields``,
  so a client cannot forge who sent a relayed message or its relay number;
- fields the table does not name are kept (the protocol lets clients add hints), but they
  are bounded by the frame size cap like everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
RATE_PER_SECOND = 200.0
RATE_BURST = 400.0
MAX_PATH_STEPS = 64
MAX_STEP_CHARS = 256
MAX_TEXT_CHARS = MAX_MESSAGE_BYTES

# WebSocket close codes the sync endpoint uses (RFC 6455 section 7.4.1, 4000 is ours).
CLOSE_MALFORMED = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 1013
CLOSE_ENDED = 4000

Check = Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS


def _text_or_null(value: Any) -> bool:
    return value is None or _text(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _path(value: Any) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= MAX_PATH_STEPS
            and all(isinstance(step, str) and 0 < len(step) <= MAX_STEP_CHARS for step in value))


def _path_or_null(value: Any) -> bool:
    return value is None or _path(value)


def _object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _small_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 4096


def _mods(value: Any) -> bool:
    # Clients may send modifier keys as a bit mask or as a list of names.
    return _count(value) or (_small_list(value) and all(isinstance(m, str) for m in value))


def _one_of(*allowed: str) -> Check:
    choices = frozenset(allowed)
    return lambda value: isinstance(value, str) and value in choices


@dataclass(frozen=True, slots=True)
class Field:
    check: Check
    required: bool = False


def _req(check: Check) -> Field:
    return Field(check, True)


def _opt(check: Check) -> Field:
    return Field(check, False)


FIELDS: Mapping[str, Mapping[str, Field]] = {
    "hello": {"page": _req(_text), "window": _opt(_text), "url": _opt(_text), "last": _opt(_count),
              "vw": _opt(_number), "vh": _opt(_number)},
    "nav": {"url": _req(_text), "kind": _req(_one_of("load", "push", "replace", "pop", "hash", "reload"))},
    "scroll": {"target": _opt(_path_or_null), "x": _req(_number), "y": _req(_number),
               "anchor": _opt(_object_or_null)},
    "pointer": {"x": _req(_number), "y": _req(_number), "target": _opt(_path_or_null),
                "ox": _opt(_number), "oy": _opt(_number)},
    "click": {"target": _req(_path), "ox": _opt(_number), "oy": _opt(_number), "button": _opt(_count)},
    "input": {"target": _req(_path), "value": _opt(_text_or_null), "checked": _opt(_flag),
              "selected": _opt(_small_list), "sel": _opt(_small_list)},
    "key": {"target": _opt(_path_or_null), "key": _req(_text), "code": _opt(_text), "mods": _opt(_mods),
            "phase": _req(_one_of("down", "up"))},
    "focus": {"target": _opt(_path_or_null)},
    "select": {"anchor": _opt(_object_or_null), "focus": _opt(_object_or_null)},
    "media": {"target": _req(_path), "action": _req(_one_of("play", "pause", "seek")), "time": _opt(_number)},
    "submit": {"target": _req(_path)},
    "storage": {"area": _req(_one_of("local", "session")), "key": _opt(_text_or_null),
                "value": _opt(_text_or_null)},
    "window": {"action": _req(_one_of("open", "close")), "window": _req(_text), "url": _opt(_text)},
    "digest": {"hash": _req(_text), "url": _req(_text)},
    "control": {"action": _req(_one_of("request", "grant", "revoke", "take")), "to": _opt(_text)},
    "end": {},
}

# Events that act on the page: only the participant in control may send them (else dropped, counted).
INPUT_TYPES = frozenset({"nav", "scroll", "click", "input", "key", "focus", "select", "media", "submit",
                         "storage", "window"})
# Keys a client may not set: the server owns them.
SERVER_KEYS = frozenset({"type", "seq", "n", "from"})


class ProtocolError(Exception):
    """A frame broke the protocol; ``code`` is the WebSocket close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Inbound:
    type: str
    seq: int
    fields: dict[str, Any] = field(default_factory=dict)


def parse(text: str) -> Inbound:
    """A checked client message from one text frame, or ``ProtocolError``."""
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ProtocolError(CLOSE_TOO_BIG, "message too big")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(CLOSE_MALFORMED, "not JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(CLOSE_MALFORMED, "not a JSON object")
    kind = data.get("type")
    spec = FIELDS.get(kind) if isinstance(kind, str) else None
    if spec is None or not isinstance(kind, str):
        raise ProtocolError(CLOSE_POLICY, "unknown message type")
    seq = data.get("seq", 0)
    if not _count(seq) or (kind != "hello" and seq < 1):
        raise ProtocolError(CLOSE_MALFORMED, "seq must be a positive integer")
    for name, rule in spec.items():
        if name in data:
            if not rule.check(data[name]):
                raise ProtocolError(CLOSE_MALFORMED, f"bad field {name!r} in {kind}")
        elif rule.required:
            raise ProtocolError(CLOSE_MALFORMED, f"missing field {name!r} in {kind}")
    return Inbound(kind, seq, {k: v for k, v in data.items() if k not in SERVER_KEYS})


def path_key(path: list[str] | None) -> str:
    """The protocol's *path key*: compact JSON, byte for byte what ``JSON.stringify`` gives."""
    return json.dumps(path, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class TokenBucket:
    """Message rate cap: ``rate`` per second on average, bursts up to ``burst``."""

    rate: float = RATE_PER_SECOND
    burst: float = RATE_BURST
    tokens: float = RATE_BURST
    at: float | None = None

    def __post_init__(self) -> None:
        self.tokens = min(self.tokens, self.burst)

    def allow(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
