"""A body kept for the audit trail (``cobrowse serve --audit-bodies BYTES``), teed as it passes.

``BodyTee`` is fed the body's chunks as they go to the participant, raw (in the encodings its
Content-Encoding names) or already decoded, and keeps the first ``limit`` decoded bytes.

Invariants: it never holds more than ``limit`` decoded bytes (plus one decoder piece while it is
cut); once full it stops decoding (the rest of a stream costs nothing) and says ``truncated``. A
body it cannot decode (an unknown encoding, a corrupt stream) keeps what decoded before the fault
and is marked truncated too. Redaction happens after it (``sessions.audit_bodies``), before the
record is emitted.
"""

from __future__ import annotations

import zlib

from proxy.decoding import DECODERS, DecodeError, Sink, parse_encodings

_PIECE = 16 * 1024


class _Keep:
    """The last sink: keeps pieces while they fit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pieces: list[bytes] = []
        self.held = 0
        self.full = False

    def write(self, data: bytes) -> None:
        room = self.limit - self.held
        if len(data) > room:
            self.full = True
            data = data[:room]
        if data:
            self.pieces.append(data)
            self.held += len(data)


class BodyTee:
    def __init__(self, limit: int, content_encoding: str | None = None) -> None:
        self._keep = _Keep(limit)
        self._head: Sink = self._keep
        self._broken = False
        for name in parse_encodings(content_encoding):
            factory = DECODERS.get(name)
            if factory is None:
                self._broken = True
                break
            self._head = factory(self._head, _PIECE)

    def feed(self, chunk: bytes) -> None:
        if self._keep.full or self._broken or not chunk:
            return
        try:
            self._head.write(chunk)
        except (DecodeError, zlib.error, ValueError, RuntimeError):
            self._broken = True

    @property
    def truncated(self) -> bool:
        return self._keep.full or self._broken

    def value(self) -> bytes:
        return b"".join(self._keep.pieces)


def kept(body: bytes, limit: int, content_encoding: str | None = None) -> tuple[bytes, bool]:
    """A body already in memory: its first ``limit`` decoded bytes and whether it was cut."""
    tee = BodyTee(limit, content_encoding)
    tee.feed(body)
    return tee.value(), tee.truncated
