"""Content-Encoding decoding with bounded memory: bombs are refused, never inflated.

A body is fed in raw chunks to a ``BoundedDecoder``, which undoes the encodings named by the
response's ``Content-Encoding`` (right to left: ``gzip, br`` was gzipped first, so it is
un-brotlied first) and hands the decoded bytes to a ``Limit``.

Invariants:

- Every decoder stage emits output in pieces of about ``piece`` bytes (zlib ``max_length``,
  brotli ``output_buffer_limit``, zstandard's writer ``write_size``); no stage ever produces
  the whole output of a chunk at once, however compressible the chunk is.
- The ``Limit`` checks each piece before keeping it, so the decoded bytes held never pass
  ``limit`` and the bytes alive at any moment are at most ``limit`` plus one piece. It raises
  ``BodyTooLarge`` the moment the decoded size would pass ``limit`` or the decoded/encoded ratio
  becomes absurd, which stops the stages mid-chunk (the exception unwinds out of them).
- zstd frames asking for a window above 8 MiB are refused (the HTTP limit of RFC 8878 that
  browsers apply), so a hostile frame cannot make the decoder allocate a huge window.
- No I/O and no asyncio: the async shell (``upstream``) reads the network and feeds this.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import brotlicffi as brotli  # brotli 1.2's bounded process(); mitmproxy 11 pins the brotli module to 1.1
import zstandard

PIECE = 64 * 1024
FEED_SLICE = 4 * 1024
ZSTD_MAX_WINDOW = 8 * 1024 * 1024


class BodyTooLarge(ValueError):
    """The decoded body would pass its size limit or its decoded/encoded ratio is absurd."""

    def __init__(self, reason: str, *, limit: int, decoded: int, encoded: int, peak: int) -> None:
        super().__init__(f"{reason} (limit {limit} bytes, decoded {decoded}, encoded {encoded})")
        self.reason = reason
        self.limit = limit
        self.decoded = decoded
        self.encoded = encoded
        self.peak = peak  # most decoded bytes alive at once, kept plus arriving


class DecodeError(ValueError):
    """The body is not valid in the encoding its Content-Encoding names, or is truncated."""


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on one decoded body. ``max_ratio`` None disables the ratio check."""

    limit: int = 20 * 1024 * 1024
    # Real text rarely compresses beyond 20:1 and deflate cannot pass ~1032:1; anything above
    # 1000:1 past the first MiB is a bomb (the size limit bounds memory either way).
    max_ratio: float | None = 1000.0
    ratio_floor: int = 1024 * 1024  # the ratio is only judged once this much is decoded
    piece: int = PIECE


class Limit:
    """The last sink: keeps decoded pieces while they fit, and counts what it saw."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.pieces: list[bytes] = []
        self.held = 0
        self.encoded = 0
        self.peak = 0
        self.largest_piece = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        size = len(data)
        self.largest_piece = max(self.largest_piece, size)
        self.peak = max(self.peak, self.held + size)
        limits = self.limits
        total = self.held + size
        if total > limits.limit:
            self._refuse("decoded body larger than the limit", total)
        if (
            limits.max_ratio is not None
            and total > limits.ratio_floor
            and total > limits.max_ratio * max(self.encoded, 1)
        ):
            self._refuse("decoded/encoded ratio too high (compression bomb)", total)
        self.pieces.append(data)
        self.held = total

    def _refuse(self, reason: str, decoded: int) -> None:
        self.pieces.clear()
        raise BodyTooLarge(reason, limit=self.limits.limit, decoded=decoded, encoded=self.encoded, peak=self.peak)

    def value(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces = [data]
        return data


class _Zlib:
    """gzip (possibly several members) or zlib/raw deflate, chosen by ``wbits``."""

    def __init__(self, wbits: int, sink: Sink, piece: int) -> None:
        self._wbits = wbits
        self._sink = sink
        self._piece = piece
        self._d = zlib.decompressobj(wbits)
        self._pending = b""

    def write(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        try:
            while data:
                if self._d.eof:
                    data = self._next_member(data)
                    continue
                self._sink.write(self._d.decompress(data, self._piece))
                data = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
        except zlib.error as exc:
            raise DecodeError(f"bad deflate data: {exc}") from exc

    def _next_member(self, rest: bytes) -> bytes:
        # Concatenated gzip members decode as one body (as browsers do); other bytes after the
        # end of the stream are ignored.
        if self._wbits == 31 and len(rest) < 2:
            self._pending = rest
            return b""
        if self._wbits == 31 and rest[:2] == b"\x1f\x8b":
            self._d = zlib.decompressobj(self._wbits)
            return rest
        return b""

    def close(self) -> None:
        try:
            self._sink.write(self._d.flush())
        except zlib.error as exc:
            raise DecodeError(f"bad deflate data: {exc}") from exc
        if not self._d.eof:
            raise DecodeError("truncated deflate stream")


class _Deflate:
    """HTTP ``deflate``: meant to be zlib-wrapped, often raw in practice; sniff the header."""

    def __init__(self, sink: Sink, piece: int) -> None:
        self._sink = sink
        self._piece = piece
        self._head = b""
        self._inner: _Zlib | None = None

    def write(self, data: bytes) -> None:
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return
            cmf, flg = self._head[0], self._head[1]
            zlib_wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._inner = _Zlib(15 if zlib_wrapped else -15, self._sink, self._piece)
            data, self._head = self._head, b""
        self._inner.write(data)

    def close(self) -> None:
        if self._inner is None:
            raise DecodeError("truncated deflate stream")
        self._inner.close()


class _Brotli:
    def __init__(self, sink: Sink, piece: int) -> None:
        self._sink = sink
        self._piece = piece
        self._d = brotli.Decompressor()

    def write(self, data: bytes) -> None:
        try:
            out = self._d.process(data, output_buffer_limit=self._piece)
            # A full buffer means more output is pending: drain it with empty input.
            # (can_accept_more_data() only tracks the max_length API, not output_buffer_limit.)
            while len(out) >= self._piece:
                self._sink.write(out)
                out = self._d.process(b"", output_buffer_limit=self._piece)
            self._sink.write(out)
        except brotli.error as exc:
            raise DecodeError(f"bad brotli data: {exc}") from exc

    def close(self) -> None:
        if not self._d.is_finished():
            raise DecodeError("truncated brotli stream")


class _Zstd:
    def __init__(self, sink: Sink, piece: int) -> None:
        self._sink = sink
        self._seen = False
        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        # The writer pushes each ``piece`` of output into the sink as it is produced, so a
        # refusal raised by the sink stops decompression in the middle of a chunk.
        writer: Any = _Forward(sink)  # duck-typed file: zstandard only calls write()
        self._w = dctx.stream_writer(writer, write_size=piece, closefd=False)

    def write(self, data: bytes) -> None:
        self._seen = self._seen or bool(data)
        try:
            self._w.write(data)
        except zstandard.ZstdError as exc:
            raise DecodeError(f"bad zstd data: {exc}") from exc

    def close(self) -> None:
        if not self._seen:
            raise DecodeError("empty zstd stream")


class _Forward:
    """Adapts a Sink to the file-like writer zstandard expects."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink.write(bytes(data))
        return len(data)


class _Stage(Sink, Protocol):
    def close(self) -> None: ...


StageFactory = Callable[[Sink, int], _Stage]

DECODERS: dict[str, StageFactory] = {
    "gzip": lambda sink, piece: _Zlib(31, sink, piece),
    "x-gzip": lambda sink, piece: _Zlib(31, sink, piece),
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}
IDENTITY = frozenset({"", "identity"})


def parse_encodings(header: str | None) -> list[str]:
    """Content-Encoding tokens in the order they were applied, identity dropped, lower-cased."""
    if not header:
        return []
    tokens = [t.strip().lower() for t in header.split(",")]
    return [t for t in tokens if t not in IDENTITY]


def supported(encodings: list[str]) -> bool:
    return all(e in DECODERS for e in encodings)


class BoundedDecoder:
    """Feed raw body chunks; get the decoded body, or BodyTooLarge / DecodeError."""

    def __init__(self, encodings: list[str], limits: DecodeLimits | None = None) -> None:
        unknown = [e for e in encodings if e not in DECODERS]
        if unknown:
            raise DecodeError(f"unsupported content-encoding: {', '.join(unknown)}")
        self.limit = Limit(limits or DecodeLimits())
        stages: list[_Stage] = []
        sink: Sink = self.limit
        for name in encodings:  # the first applied is undone last: it writes to the Limit
            stage = DECODERS[name](sink, self.limit.limits.piece)
            stages.append(stage)
            sink = stage
        self._stages = list(reversed(stages))  # outermost encoding first
        self._head: Sink = sink

    def feed(self, chunk: bytes) -> None:
        # Small slices keep the encoded count close to what the decoders have consumed, so the
        # ratio check fires after a few MiB of a bomb rather than after ratio x chunk.
        view = memoryview(chunk)
        for start in range(0, len(view), FEED_SLICE):
            part = view[start : start + FEED_SLICE]
            self.limit.encoded += len(part)
            self._head.write(bytes(part))

    def take(self) -> bytes:
        """What was decoded since the last ``take`` (streaming: the pieces are not kept, and
        ``finish`` then returns only what closing the decoders gives)."""
        data = b"".join(self.limit.pieces)
        self.limit.pieces.clear()
        return data

    def finish(self) -> bytes:
        if self.limit.encoded == 0:
            return b""  # an empty body is empty in every encoding (HEAD, 204, 304 carry the header)
        for stage in self._stages:
            stage.close()
        return self.limit.value()


def decode_all(body: bytes, encodings: list[str], limits: DecodeLimits | None = None) -> bytes:
    """Decode a body already in memory, with the same bounds."""
    decoder = BoundedDecoder(encodings, limits)
    for start in range(0, len(body), PIECE):
        decoder.feed(body[start : start + PIECE])
    return decoder.finish()
