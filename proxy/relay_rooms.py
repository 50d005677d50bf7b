"""The sync relays of the sessions, kept in the shared state (``sessions.shared``), so that the sync
sockets of one session may be held by several server processes.

Every relay event (open, receive, idle, close, give, remove, announce, drop, end) is one
``transact`` on the session's relay key: the relay is rebuilt from its text
(``sessions.relay.Relay.from_json``), the event applied, the relay written back, its newly
numbered messages pushed onto the replay list beside it (trimmed to ``Limits.buffer_messages``),
and the outcome's sends and closes published on the session's channel (with the relay's ``n``
before and after, so a process that missed a publication can tell), all in one transaction.
Successive transactions on one key publish in order, so every process hears a session's outcomes
in relay order; each delivers what is addressed to its own connections (``proxy.synchub``). The
replay list is read only for a page that reconnects with a ``last`` (``Relay.needs_buffer``).
On the in-memory backend this is the same code, round-tripping through text.

Connection ids are ``<process>.<n>``: unique across processes, and they name the process holding
the socket. Each process keeps a heartbeat key alive (``HEARTBEAT_TTL``); ``dead_conns`` names
the connections of processes whose heartbeat is gone, which the hub drops from the relay.

Each process keeps the relay it last wrote per session, parsed, beside its text, and uses it again
while the shared text is still that text (no other process wrote since): a session driven from
one process is not rebuilt for every message. Every other time the relay is rebuilt from its text.

Invariants: a transaction's change has no effect outside its result but that kept relay (it may
run again; a kept relay whose write did not commit is never used, its text not being the shared one);
a relay that ended keeps its text for ``ENDED_TTL`` (so nothing re-creates it), its replay list is
deleted; the relay key lives ``LINGER`` seconds past the session's expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

from sessions.model import Session
from sessions.relay import NOTHING, ControlRules, Limits, Outcome, Relay
from sessions.shared import Push, Shared, SharedUnavailable, Write

HEARTBEAT_TTL: Final = 10.0  # seconds a process counts as alive after its last beat (a loaded one stalls)
BEAT_EVERY: Final = HEARTBEAT_TTL / 3
ENDED_TTL: Final = 600.0
LINGER: Final = 3600.0
READ_AGAIN: Final = 3
KEPT: Final = 1000  # relays kept parsed per process (the most recently used sessions)
Op = Callable[[Relay], Outcome]


def channel(session_id: str) -> str:
    return f"relay:{session_id}"


def process_of(conn_id: str) -> str:
    return conn_id.partition(".")[0]


def encode(outcome: Outcome, numbered: tuple[int, int] = (0, 0)) -> str:
    """An outcome as the channel carries it: a line of addressing
    (``[[to, ...], [[conn, code, reason], ...], n_before, n_after]``: the relay's ``n`` before and
    after the event), then each message's text on a line of its own (JSON text never holds a raw
    newline), so each message is serialised once and delivered as is."""
    head = json.dumps([[list(s.to) for s in outcome.sends], [[c.conn, c.code, c.reason] for c in outcome.closes],
                       *numbered], separators=(",", ":"), ensure_ascii=False)
    return "\n".join([head, *(json.dumps(s.message, separators=(",", ":"), ensure_ascii=False)
                              for s in outcome.sends)])


@dataclass(frozen=True, slots=True)
class Delivery:
    """A published outcome: message texts per connection, then closes, and the relay's ``n``
    before and after the event (``numbered``)."""

    sends: tuple[tuple[tuple[str, ...], str], ...]
    closes: tuple[tuple[str, int, str], ...]
    numbered: tuple[int, int]

    @classmethod
    def decode(cls, text: str) -> Delivery:
        head, *messages = text.split("\n")
        to, closes, before, after = json.loads(head)
        return cls(tuple(zip((tuple(t) for t in to), messages, strict=True)),
                   tuple((conn, code, reason) for conn, code, reason in closes), (before, after))


def fresh_relay(session: Session, initial_url: str, limits: Limits) -> Relay:
    rules = ControlRules(view_only=session.options.view_only, consent=session.options.consent)
    return Relay(session.id, session.leader_id, session.controller, initial_url, session.end_redirect_url,
                 limits, rules)


class RelayRooms:
    """The relays of every session on one ``Shared``; ``process`` is this process's id."""

    def __init__(self, shared: Shared, limits: Limits | None = None, process: str | None = None) -> None:
        self.shared = shared
        self.limits = limits or Limits()
        self.process = process or secrets.token_hex(4)
        self._beat: asyncio.Task[None] | None = None
        # Per session, the relay this process last wrote and its text: used again, instead of
        # being rebuilt, while the shared text is still that one (no other process wrote since).
        self._kept: OrderedDict[str, tuple[str, Relay]] = OrderedDict()

    @staticmethod
    def _key(session_id: str) -> str:
        return f"relay:{session_id}"

    @staticmethod
    def _buffer_key(session_id: str) -> str:
        return f"relay-buffer:{session_id}"

    @staticmethod
    def _heartbeat_key(process: str) -> str:
        return f"relay-process:{process}"

    async def apply(self, sid: str, op: Op, *, expires_at: float, fresh: Session | None = None,
                    buffer: bool = False) -> tuple[Outcome, Relay | None]:
        """Apply ``op`` to the session's relay (made from ``fresh`` if it has none; without it,
        nothing happens to a relay that does not exist) in one transaction; the outcome (already
        published) and the relay after it. The relay key lives ``LINGER`` past ``expires_at``."""
        items = await self.shared.items(self._buffer_key(sid)) if buffer else None
        now = time.time()
        for attempt in range(READ_AGAIN + 1):
            stale_ok = attempt == READ_AGAIN  # then a stale list only costs a snapshot instead of a replay
            done = await self.shared.transact(self._key(sid), partial(
                self._change, sid, op=op, items=items, fresh=fresh, lives=expires_at - now, stale_ok=stale_ok))
            if done is not None:
                break
            items = await self.shared.items(self._buffer_key(sid))  # numbered since it was read: again
        assert done is not None
        return done

    def _change(self, sid: str, old: str | None, *, op: Op, items: list[str] | None, fresh: Session | None,
                lives: float, stale_ok: bool) -> tuple[Write | None, tuple[Outcome, Relay | None] | None]:
        if old is None and fresh is None:
            return None, (NOTHING, None)
        kept = self._kept.pop(sid, None)
        if old is not None and kept is not None and kept[0] == old and items is None:
            relay = kept[1]
        elif old is not None:
            tree = json.loads(old)
            if items and not stale_ok and _last_n(items) < tree["n"]:
                return None, None
            relay = Relay.from_json(tree, items, self.limits)
        else:
            assert fresh is not None
            relay = fresh_relay(fresh, fresh.target_url, self.limits)
        before = relay.n
        outcome = op(relay)
        text = json.dumps(relay.to_json(), separators=(",", ":"), ensure_ascii=False)
        numbered = relay.new_buffered()
        self._keep(sid, text, relay)
        # Published whenever something was numbered, even for no one: a process that missed a
        # publication sees the gap in ``n`` (``proxy.synchub``).
        publish = ((channel(sid), encode(outcome, (before, relay.n))),) \
            if outcome.sends or outcome.closes or relay.n != before else ()
        if text == old and not publish:
            return None, (outcome, relay)
        if relay.ended:
            pushes: tuple[Push, ...] = (Push(self._buffer_key(sid), (), 0),)
            ttl = ENDED_TTL
        else:
            pushes = (Push(self._buffer_key(sid), numbered, self.limits.buffer_messages),) if numbered else ()
            ttl = max(lives, 0.0) + LINGER
        return Write(value=text, push=pushes, publish=publish, ttl=ttl), (outcome, relay)

    def _keep(self, sid: str, text: str, relay: Relay) -> None:
        """Keep ``relay`` as the one for ``text``; its numbered messages are then no longer new.
        (Harmless if the transaction does not commit: the shared text will not be ``text``.)"""
        relay.settled()
        self._kept[sid] = (text, relay)
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)

    async def read(self, session_id: str) -> Relay | None:
        """The session's relay as it is now (without its replay buffer), None if it has none."""
        text = await self.shared.get(self._key(session_id))
        kept = self._kept.get(session_id)
        if text is not None and kept is not None and kept[0] == text:
            return kept[1]
        return None if text is None else Relay.from_json(json.loads(text), None, self.limits)

    # ---- processes

    async def dead_conns(self, relay: Relay) -> tuple[str, ...]:
        """The relay's connections held by processes (other than this one) whose heartbeat is gone."""
        others = {process_of(c) for c in relay.conn_ids()} - {self.process}
        dead = {p for p in others if await self.shared.get(self._heartbeat_key(p)) is None}
        return tuple(c for c in relay.conn_ids() if process_of(c) in dead)

    async def beat(self) -> None:
        await self.shared.put(self._heartbeat_key(self.process), str(time.time()), ttl=HEARTBEAT_TTL)

    async def start(self) -> None:
        """Beat now (so this process's first connections are not taken for dead), then keep beating."""
        await self.beat()
        self._beat = asyncio.ensure_future(self._beating())

    async def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        with contextlib.suppress(SharedUnavailable):
            await self.shared.delete(self._heartbeat_key(self.process))

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(BEAT_EVERY)
            with contextlib.suppress(SharedUnavailable):
                await self.beat()


def _last_n(items: list[str]) -> int:
    """The number of the replay list's last item (the list was read before the transaction: a
    smaller number than the relay's means messages were numbered in between)."""
    return int(json.loads(items[-1])[0])
