"""Idempotent creation: the same ``Idempotency-Key`` answers the same result, once made.

A client that retries ``POST /api/v1/sessions`` after a lost answer sends the same
``Idempotency-Key`` header; it must get the first request's 201 body (the same session, the same
links) rather than a second session. The ledger maps ``(API key id, Idempotency-Key)`` to the
request's fingerprint (a digest per top-level body field) and, once settled, the answer's body.

- ``claim`` answers one of ``Outcome.NEW`` (the caller goes on and must ``settle`` or ``release``),
  ``REPLAY`` (with the kept body), ``CLASH`` (the same key with another body, naming the fields
  that differ) or ``PENDING`` (the first request with this key is still being served).
- Entries live ``ttl`` seconds (24 h); a claim never settled is given up after ``pending_ttl``.
- Memory is bounded: at most ``capacity`` entries, the least recently used dropped first.

Pure: no I/O; the time is an argument. Backends hold one ``Ledger`` (memory) or keep the same
entries remotely with the same rules.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

DAY: Final = 86400.0
MAX_KEY_CHARS: Final = 255

Fingerprint = dict[str, str]


def fingerprint(body: Mapping[str, Any]) -> Fingerprint:
    """A digest of each top-level field of a JSON body (key order and spacing do not count)."""
    return {name: hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            for name, value in body.items()}


def check_key(raw: str) -> str:
    """The header's value when it is usable: 1 to 255 printable ASCII characters."""
    if not 0 < len(raw) <= MAX_KEY_CHARS or not all(0x20 <= ord(c) <= 0x7E for c in raw):
        raise ValueError(f'the "Idempotency-Key" header must be 1 to {MAX_KEY_CHARS} printable ASCII '
                         'characters, e.g. a UUID')
    return raw


class Outcome(StrEnum):
    NEW = "new"
    REPLAY = "replay"
    CLASH = "clash"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Outcome
    body: str = ""
    differing: tuple[str, ...] = ()


@dataclass(slots=True)
class _Entry:
    fingerprint: Fingerprint
    at: float
    body: str | None = None


@dataclass(slots=True)
class Ledger:
    capacity: int = 10_000
    ttl: float = DAY
    pending_ttl: float = 120.0
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)

    def claim(self, key: str, print_: Fingerprint, now: float) -> Claim:
        entry = self._entries.get(key)
        if entry is not None and self._stale(entry, now):
            del self._entries[key]
            entry = None
        if entry is None:
            self._entries[key] = _Entry(print_, now)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            return Claim(Outcome.NEW)
        self._entries.move_to_end(key)
        if entry.fingerprint != print_:
            names = sorted(n for n in {*entry.fingerprint, *print_} if entry.fingerprint.get(n) != print_.get(n))
            return Claim(Outcome.CLASH, differing=tuple(names))
        if entry.body is None:
            return Claim(Outcome.PENDING)
        return Claim(Outcome.REPLAY, body=entry.body)

    def settle(self, key: str, body: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.body, entry.at = body, now

    def release(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.body is None:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def _stale(self, entry: _Entry, now: float) -> bool:
        return now - entry.at > (self.ttl if entry.body is not None else self.pending_ttl)
