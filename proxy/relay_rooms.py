"""The sync relays of the sessions, kept in the shared state (``sessions.shared``), so that the sync
sockets of one session may be held by several server processes.

Every relay event (open, receive, idle, close, give, remove, announce, drop, end) is one
``transact`` on the session's relay key: the relay is rebuilt from its text
(``sessions.relay.Relay.from_json``), the event applied, the relay written back, its newly
numbered messages pushed onto the replay list beside it (trimmed to ``Limits.buffer_messages``),
and the outcome's sends and closes published on the session's channel, all in one transaction.
Successive transactions on one key publish in order, so every process hears a session's outcomes
in relay order; each delivers what is addressed to its own connections (``proxy.synchub``). The
replay list is read only for a page that reconnects with a ``last`` (``Relay.needs_buffer``).
On the in-memory backend this is the same code, round-tripping through text.

Connection ids are ``<process>.<n>``: unique across processes, and they name the process holding
the socket. Each process keeps a heartbeat key alive (``HEARTBEAT_TTL``); ``dead_conns`` names
the connections of processes whose heartbeat is gone, which the hub drops from the relay.

Invariants: a transaction's change has no effect outside its result (it may run again);
a relay that ended keeps its text for ``ENDED_TTL`` (so nothing re-creates it), its replay list is
deleted; the relay key lives ``LINGER`` seconds past the session's expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from sessions.model import Session
from sessions.relay import NOTHING, ControlRules, Limits, Outcome, Relay
from sessions.shared import Push, Shared, SharedUnavailable, Write

HEARTBEAT_TTL: Final = 5.0  # seconds a process counts as alive after its last beat
BEAT_EVERY: Final = HEARTBEAT_TTL / 3
ENDED_TTL: Final = 600.0
LINGER: Final = 3600.0
READ_AGAIN: Final = 3
Op = Callable[[Relay], Outcome]


def channel(session_id: str) -> str:
    return f"relay:{session_id}"


def process_of(conn_id: str) -> str:
    return conn_id.partition(".")[0]


def encode(outcome: Outcome) -> str:
    """An outcome's sends and closes as the channel carries them (each message serialised once)."""
    return json.dumps({"s": [[list(s.to), json.dumps(s.message, separators=(",", ":"), ensure_ascii=False)]
                             for s in outcome.sends],
                       "c": [[c.conn, c.code, c.reason] for c in outcome.closes]},
                      separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A published outcome: message texts per connection, then closes."""

    sends: tuple[tuple[tuple[str, ...], str], ...]
    closes: tuple[tuple[str, int, str], ...]

    @classmethod
    def decode(cls, text: str) -> Delivery:
        tree = json.loads(text)
        return cls(tuple((tuple(to), message) for to, message in tree["s"]),
                   tuple((conn, code, reason) for conn, code, reason in tree["c"]))


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
        tree: dict[str, Any] | None = json.loads(old) if old is not None else None
        if tree is not None and items and not stale_ok and _last_n(items) < tree["n"]:
            return None, None
        relay = (Relay.from_json(tree, items, self.limits) if tree is not None
                 else fresh_relay(fresh, fresh.target_url, self.limits) if fresh is not None else None)
        assert relay is not None
        outcome = op(relay)
        text = json.dumps(relay.to_json(), separators=(",", ":"), ensure_ascii=False)
        publish = ((channel(sid), encode(outcome)),) if outcome.sends or outcome.closes else ()
        if text == old and not publish:
            return None, (outcome, relay)
        numbered = relay.new_buffered()
        if relay.ended:
            pushes: tuple[Push, ...] = (Push(self._buffer_key(sid), (), 0),)
            ttl = ENDED_TTL
        else:
            pushes = (Push(self._buffer_key(sid), numbered, self.limits.buffer_messages),) if numbered else ()
            ttl = max(lives, 0.0) + LINGER
        return Write(value=text, push=pushes, publish=publish, ttl=ttl), (outcome, relay)

    async def read(self, session_id: str) -> Relay | None:
        """The session's relay as it is now (without its replay buffer), None if it has none."""
        text = await self.shared.get(self._key(session_id))
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
