"""Correlation tokens: a follower's copy of a target WebSocket answers the requests it made itself.

Fetch once gives a follower's socket a copy of what the target sends the driver, and drops what
the follower sends. Many WebSocket protocols pair each reply with its request by an id the client
made up (Jupyter's ``msg_id`` and client ``session`` UUIDs, random JSON-RPC or DDP ids), and a
client draws only replies to ids it sent, so a follower running the same page draws nothing.
The proxy sees both sides; this module pairs them:

- ``SentLog``: what the driver sent on one socket, as *shapes* and *tokens*. A token is an id-like
  run: a UUID, or 16+ ASCII letters and digits with at least one of each (hex, base32/36/64-ish
  randoms). A shape is the frame with every token replaced by a mark of its length and every other
  run of digits (counters, timestamps) by one mark, so the driver's frame and the follower's twin
  of it, made by the same code from the same state, have equal shapes.
- ``Pairing``, one per follower socket: a frame the follower sends is paired with an unpaired
  driver frame of the same shape and each driver token is mapped to the follower's token at the
  same position. Every frame the target sends is relayed with the driver's tokens replaced by the
  follower's. Tokens are compared as bytes and replaced only by tokens of equal length, so text
  stays valid UTF-8 and binary framings (Jupyter's ``v1.kernel.websocket.jupyter.org`` offsets)
  stay valid.
- A target frame naming a driver token the follower has not paired yet is *held* (the follower's
  twin request is usually a moment behind: its page replays the leader's input over the sync
  socket) until the follower sends its pair or ``wait`` seconds pass; frames after a held one
  queue behind it. Frames are never lost and never reordered.

Which driver frame a follower frame pairs with, among the unpaired ones of its shape: the oldest
a held frame is waiting for; else the oldest the driver sent since this follower attached; else
the newest sent before (a late joiner's start-up requests); else the follower's frame waits, up
to ``wait``, for the driver's next frame of its shape. Pairing with a frame gives up on the older
unpaired ones of that shape (both pages send them in the same order); so does a held frame timing
out, for the tokens it was waiting for: frames naming them later are not held again.

Limits (the cost of a heuristic): ids shorter than 16 characters or without both a letter and a
digit (small JSON-RPC counters, letter-only ids) are not tokens and are relayed as the driver's;
frames the two pages build differently (other values, other order) never pair, so their replies
are held up to ``wait`` and then relayed as the driver's; a token the driver echoes from the
target is paired to itself once the follower echoes it too. Bounded: the log keeps the driver's
last ``log_frames`` frames and ``log_bytes`` of shapes (a larger frame is not recorded), a
follower holds at most ``held_frames`` frames and ``held_bytes`` (past that the oldest goes on as
it is), keeps ``pending`` unpaired frames of its own and remembers ``remembered`` tokens.

Pure: no I/O, no clock (callers pass ``now``); nothing here raises on any frame.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

Frame = tuple[bool, str | bytes]  # (is_text, data), as the fan-out channel carries them

_HEX4 = rb"[0-9A-Fa-f]{4}"
_SCAN = re.compile(rb"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{8}-" + _HEX4 + b"-" + _HEX4 + b"-" + _HEX4
                   + rb"-[0-9A-Fa-f]{12}|[0-9A-Za-z]{16,})(?![0-9A-Za-z])|[0-9]+")
_NUMBER_MARK = b"\x01"


@dataclass(frozen=True, slots=True)
class PairingLimits:
    log_frames: int = 256
    log_bytes: int = 1024 * 1024
    held_frames: int = 1000
    held_bytes: int = 8 * 1024 * 1024
    pending: int = 64
    remembered: int = 4096


def _is_token(run: bytes) -> bool:
    """A UUID, or a run of ASCII letters and digits with both (what ``_SCAN`` found)."""
    return len(run) >= 16 and not run.isalpha() and not run.isdigit()


def scan(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The frame's shape and its tokens as (offset, token), in order."""
    shape = bytearray()
    tokens: list[tuple[int, bytes]] = []
    last = 0
    for match in _SCAN.finditer(data):
        run = match.group()
        if _is_token(run):
            mark = b"\x00%d\x00" % len(run)
            tokens.append((match.start(), run))
        elif run.isdigit():
            mark = _NUMBER_MARK
        else:
            continue
        shape += data[last:match.start()]
        shape += mark
        last = match.end()
    shape += data[last:]
    return bytes(shape), tokens


_TOKEN = re.compile(rb"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{8}-" + _HEX4 + b"-" + _HEX4 + b"-" + _HEX4
                    + rb"-[0-9A-Fa-f]{12}|[0-9A-Za-z]{16,})(?![0-9A-Za-z])")


def tokens_in(data: bytes) -> list[tuple[int, bytes]]:
    """The frame's tokens as (offset, token), in order (``scan`` without the shape)."""
    return [(m.start(), m.group()) for m in _TOKEN.finditer(data) if _is_token(m.group())]


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data


@dataclass(frozen=True, slots=True)
class Sent:
    """One frame the driver sent: its place in the log, its shape and its tokens."""

    seq: int
    shape: bytes
    tokens: tuple[bytes, ...]


class SentLog:
    """The driver's last frames on one socket (bounded), with an index from token to frames."""

    def __init__(self, limits: PairingLimits | None = None) -> None:
        self.limits = limits or PairingLimits()
        self.frames: deque[Sent] = deque()
        self.next_seq = 0
        self._bytes = 0
        self._index: dict[bytes, list[int]] = {}
        self.lengths: dict[int, int] = {}  # token length -> how many distinct logged tokens have it

    def record(self, is_text: bool, data: str | bytes) -> None:
        raw = _as_bytes(data)
        if len(raw) > self.limits.log_bytes:
            return
        shape, tokens = scan(raw)
        sent = Sent(self.next_seq, (b"T" if is_text else b"B") + shape, tuple(t for _, t in tokens))
        self.next_seq += 1
        self.frames.append(sent)
        self._bytes += len(sent.shape)
        for token in set(sent.tokens):
            if token not in self._index:
                self.lengths[len(token)] = self.lengths.get(len(token), 0) + 1
            self._index.setdefault(token, []).append(sent.seq)
        while len(self.frames) > self.limits.log_frames or self._bytes > self.limits.log_bytes:
            self._forget(self.frames.popleft())

    def seqs_naming(self, token: bytes) -> list[int]:
        """The logged driver frames that carry ``token`` (oldest first)."""
        return self._index.get(token, [])

    def since(self, seq: int) -> list[Sent]:
        return [s for s in self.frames if s.seq >= seq]

    def _forget(self, sent: Sent) -> None:
        self._bytes -= len(sent.shape)
        for token in set(sent.tokens):
            seqs = self._index.get(token, [])
            if seqs and seqs[0] == sent.seq:
                seqs.pop(0)
            if not seqs and self._index.pop(token, None) is not None:
                self.lengths[len(token)] -= 1
                if not self.lengths[len(token)]:
                    del self.lengths[len(token)]


@dataclass(slots=True)
class _Held:
    frame: Frame
    raw: bytes
    tokens: list[tuple[int, bytes]]
    deadline: float


@dataclass(slots=True)
class _Pending:
    shape: bytes
    tokens: tuple[bytes, ...]
    deadline: float


@dataclass(slots=True)
class Pairing:
    """One follower socket: its tokens for the driver's, and the target frames it is still owed."""

    log: SentLog
    wait: float
    limits: PairingLimits = field(default_factory=PairingLimits)
    start: int = -1
    mapping: dict[bytes, bytes] = field(default_factory=dict)
    given_up: dict[bytes, None] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    held: deque[_Held] = field(default_factory=deque)
    pending: deque[_Pending] = field(default_factory=deque)
    _held_bytes: int = 0
    _mapped_lengths: set[int] = field(default_factory=set)
    _seen: int = -1

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.log.next_seq
        self._seen = self.log.next_seq

    # -- the three inputs: what the follower sends, what the target sends, time ---------------

    def from_follower(self, is_text: bool, data: str | bytes, now: float) -> list[Frame]:
        """The follower sent ``data`` (it goes no further): pair it; returns frames now due to it."""
        self._catch_up(now)
        raw = _as_bytes(data)
        if len(raw) <= self.log.limits.log_bytes:
            shape, found = scan(raw)
            tokens = tuple(t for _, t in found)
            if tokens:
                self._pair_or_wait(_Pending((b"T" if is_text else b"B") + shape, tokens, now + self.wait))
        return self._release(now)

    def from_target(self, is_text: bool, data: str | bytes, now: float) -> list[Frame]:
        """The target sent ``data`` to the driver; returns the frames due to the follower now, in order."""
        self._catch_up(now)
        raw = _as_bytes(data)
        # Only tokens of a length the driver's tokens have can name one (not a base64 image's runs).
        logged, mapped = self.log.lengths, self._mapped_lengths
        tokens = [t for t in tokens_in(raw) if len(t[1]) in logged or len(t[1]) in mapped]
        self.held.append(_Held((is_text, data), raw, tokens, now + self.wait))
        self._held_bytes += len(raw)
        return self._release(now)

    def expire(self, now: float) -> list[Frame]:
        """Time has passed: frames held past their deadline go on."""
        self._catch_up(now)
        return self._release(now)

    def flush(self) -> list[Frame]:
        """The driver's socket closed: everything held goes on now, rewritten as far as known."""
        out = [self._rewrite(h) for h in self.held]
        self.held.clear()
        self._held_bytes = 0
        return out

    def deadline(self) -> float | None:
        """When the oldest held frame goes on anyway (None: nothing held)."""
        return self.held[0].deadline if self.held else None

    # -- pairing --------------------------------------------------------------------------------

    def _catch_up(self, now: float) -> None:
        """Driver frames logged since the last look may be the pair of a follower frame waiting."""
        fresh = self.log.since(self._seen)
        self._seen = self.log.next_seq
        if self.done and self.log.frames:
            oldest = self.log.frames[0].seq
            self.done = {s for s in self.done if s >= oldest}
        if not self.pending:
            return
        self.pending = deque(p for p in self.pending if p.deadline > now)
        for sent in fresh:
            for waiting in self.pending:
                if waiting.shape == sent.shape:
                    self.pending.remove(waiting)
                    self._pair(sent, waiting.tokens)
                    break

    def _pair_or_wait(self, mine: _Pending) -> None:
        candidates = [s for s in self.log.frames if s.shape == mine.shape and s.seq not in self.done]
        chosen = self._choose(candidates)
        if chosen is not None:
            self._pair(chosen, mine.tokens)
            return
        self.pending.append(mine)
        while len(self.pending) > self.limits.pending:
            self.pending.popleft()

    def _choose(self, candidates: list[Sent]) -> Sent | None:
        awaited = {t for h in self.held for _, t in h.tokens if self._owed(t)}
        for sent in candidates:
            if awaited.intersection(sent.tokens):
                return sent
        after = [s for s in candidates if s.seq >= self.start]
        if after:
            return after[0]
        return candidates[-1] if candidates else None

    def _pair(self, sent: Sent, mine: tuple[bytes, ...]) -> None:
        for older in self.log.frames:
            if older.seq <= sent.seq and older.shape == sent.shape:
                self.done.add(older.seq)
        for theirs, ours in zip(sent.tokens, mine, strict=False):
            self.mapping.pop(theirs, None)
            self.mapping[theirs] = ours
            self._mapped_lengths.add(len(theirs))
            self.given_up.pop(theirs, None)
        _trim(self.mapping, self.limits.remembered)

    def _owed(self, token: bytes) -> bool:
        """A driver token the follower may still send its own for."""
        if token in self.mapping or token in self.given_up:
            return False
        return any(seq not in self.done for seq in self.log.seqs_naming(token))

    # -- holding --------------------------------------------------------------------------------

    def _release(self, now: float) -> list[Frame]:
        out: list[Frame] = []
        while self.held:
            head = self.held[0]
            owed = [t for _, t in head.tokens if self._owed(t)]
            over = len(self.held) > self.limits.held_frames or self._held_bytes > self.limits.held_bytes
            if owed and now < head.deadline and not over:
                break
            if owed and now >= head.deadline:  # timed out: not waited for again (over the bound: only this one goes)
                for token in owed:
                    self.given_up[token] = None
                _trim(self.given_up, self.limits.remembered)
            self.held.popleft()
            self._held_bytes -= len(head.raw)
            out.append(self._rewrite(head))
        return out

    def _rewrite(self, held: _Held) -> Frame:
        swaps = [(at, self.mapping[t]) for at, t in held.tokens if self.mapping.get(t, t) != t]
        if not swaps:
            return held.frame
        data = bytearray(held.raw)
        for at, ours in swaps:
            data[at:at + len(ours)] = ours
        is_text = held.frame[0]
        return (True, data.decode("utf-8", "surrogatepass")) if is_text else (False, bytes(data))


def _trim(remembered: dict[bytes, bytes] | dict[bytes, None], bound: int) -> None:
    while len(remembered) > bound:
        del remembered[next(iter(remembered))]
