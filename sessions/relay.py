"""The sync relay core of one session: checked client messages in, messages to send out.

Pure: no sockets, no asyncio, no clock (the shell passes ``now``). The shell in
``proxy/syncws.py`` owns the sockets, calls ``open``/``receive``/``idle``/``close``/``end`` (and the
REST API ``give``/``remove``: the agent acting from outside the sockets) and
carries out the returned ``Outcome`` (send these messages to these connections, close those,
persist the new controller, end the session).

What it keeps:
- connections (one per participant page and window), each greeted by ``hello`` first;
- per page, the last accepted ``seq`` (duplicates after a resend are dropped, acks are cumulative);
- the controller and the leader's authority over it;
- the shared state a late joiner catches up from (``sessions.syncstate``), fed with accepted input
  and with the controller's loads of pages that carry no runtime (``announce``, from the proxy);
- a replay buffer of numbered messages (``n``), bounded by count and age, for reconnects;
- the controller's latest page digest per URL, to tell a drifting follower to reload;
- counters: relayed, duplicates, drift, and input dropped per participant.

Times (``now``) are wall-clock seconds (``time.time()``): several server processes share one
relay, so its times must mean the same in each.

Several processes share a relay by keeping it as text (``to_json``, ``from_json``) in the shared
state and rebuilding it for every event (``proxy.relay_rooms``). The replay buffer is not in that
tree: its numbered messages live in a list beside it, each written once (``new_buffered``: the
items numbered since the relay was rebuilt), trimmed there by count and here by age. It is
loaded only where it is read, a ``hello`` with a ``last`` (``needs_buffer``); a relay rebuilt
without it replays nothing and answers such a hello with the state snapshot.

Invariants:
- ``n`` increases by one for every numbered message, and the buffer holds consecutive ``n``;
- input events (``protocol.INPUT_TYPES``) from anyone but the controller are never sent to
  anyone and never change state: they are dropped and counted;
- a message is never sent back to its sender's own connections;
- after ``end`` nothing is sent but the ``ended`` notices, and every connection is closed.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sessions.protocol import CLOSE_ENDED, CLOSE_POLICY, CLOSE_REMOVED, INPUT_TYPES, Inbound
from sessions.syncstate import STATE_TYPES, SharedState, StateLimits

Message = Mapping[str, Any]
# Messages that deserve an immediate ack: the client waits on their effect.
_ACK_NOW = frozenset({"control", "end", "nav", "submit"})


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    role: str
    name: str


@dataclass(frozen=True, slots=True)
class Send:
    to: tuple[str, ...]
    message: Message


@dataclass(frozen=True, slots=True)
class Close:
    conn: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    sends: tuple[Send, ...] = ()
    closes: tuple[Close, ...] = ()
    controller: str | None = None  # the controller changed: persist it
    end: bool = False  # the leader ended the session: end it in the store
    masked: tuple[str, ...] = ()  # names of fields a page masks (``privacy``): for the audit redaction
    # What happened to control, for the audit trail: requested, granted, taken, returned or declined
    # (``control_by``: who did it); set with ``controller`` when control moved.
    control_action: str = ""
    control_by: str = ""


NOTHING = Outcome()


@dataclass(frozen=True, slots=True)
class Limits:
    buffer_messages: int = 2000
    buffer_seconds: float = 120.0
    ack_every: int = 16
    max_pages: int = 1000
    page_memory_seconds: float = 600.0
    max_digest_urls: int = 64
    drift_after: int = 2
    state: StateLimits = field(default_factory=StateLimits)


@dataclass(frozen=True, slots=True)
class ControlRules:
    """A session's rules for control (its options ``view_only`` and ``consent``)."""

    view_only: bool = False  # followers never get control: requests and grants to them refused
    consent: bool = False  # the leader taking control from a connected follower asks it first


@dataclass(slots=True)
class _Conn:
    id: str
    member: Member
    origin: str
    page: tuple[str, str] | None = None  # (participant, page id) once greeted
    window: str = "main"


@dataclass(slots=True)
class _Page:
    last_seq: int = 0
    unacked: int = 0
    seen: float = 0.0
    digest_url: str = ""
    mismatches: int = 0


@dataclass(frozen=True, slots=True)
class _Buffered:
    n: int
    at: float
    exclude: str  # participant id that must not get it ("" for none)
    window: str | None  # only connections of this window (None: all)
    message: Message


class Relay:
    def __init__(self, session_id: str, leader_id: str, controller: str, initial_url: str = "",
                 end_redirect: str = "", limits: Limits | None = None, rules: ControlRules | None = None) -> None:
        self.session_id = session_id
        self.leader_id = leader_id
        self.controller = controller or leader_id
        self.end_redirect = end_redirect
        self.limits = limits or Limits()
        self.rules = rules or ControlRules()
        self.n = 0
        self.ended = False
        self._roster: dict[str, Member] = {}
        self._conns: dict[str, _Conn] = {}
        self._pages: OrderedDict[tuple[str, str], _Page] = OrderedDict()
        self._buffer: deque[_Buffered] = deque()
        self._state = SharedState(self.limits.state, {"main": initial_url} if initial_url else {})
        self._digests: OrderedDict[str, str] = OrderedDict()
        self.relayed = 0
        self.duplicates = 0
        self.drifts = 0
        self.dropped: dict[str, int] = {}
        # Numbered messages after ``_buffered_since`` are in ``_buffer`` (unless trimmed); those
        # after ``_loaded_n`` were numbered since the relay was built or rebuilt.
        self._buffered_since = 0
        self._loaded_n = 0

    # ---- kept as text between events (several processes)

    def to_json(self) -> dict[str, Any]:
        """Everything the relay keeps but its replay buffer and its limits, JSON-ready."""
        return {"session": self.session_id, "leader": self.leader_id, "controller": self.controller,
                "end_redirect": self.end_redirect, "rules": [self.rules.view_only, self.rules.consent],
                "n": self.n, "ended": self.ended,
                "roster": [[m.id, m.role, m.name] for m in self._roster.values()],
                "conns": [[c.id, c.member.id, c.member.role, c.member.name, c.origin, list(c.page or ()), c.window]
                          for c in self._conns.values()],
                "pages": [[*key, p.last_seq, p.unacked, p.seen, p.digest_url, p.mismatches]
                          for key, p in self._pages.items()],
                "state": self._state.to_json(), "digests": self._digests,
                "counters": [self.relayed, self.duplicates, self.drifts, self.dropped]}

    @classmethod
    def from_json(cls, tree: Mapping[str, Any], buffer: Iterable[str] | None = None,
                  limits: Limits | None = None) -> Relay:
        """The relay ``to_json`` described; ``buffer``: the texts ``new_buffered`` gave, oldest
        first (None: not loaded, so nothing before this rebuild can be replayed)."""
        relay = cls(tree["session"], tree["leader"], tree["controller"], "", tree["end_redirect"], limits,
                    ControlRules(*tree["rules"]))
        relay.n = relay._loaded_n = tree["n"]
        relay.ended = tree["ended"]
        relay._roster = {m[0]: Member(*m) for m in tree["roster"]}
        relay._conns = {c[0]: _Conn(c[0], Member(c[1], c[2], c[3]), c[4], (c[5][0], c[5][1]) if c[5] else None, c[6])
                        for c in tree["conns"]}
        relay._pages = OrderedDict(((p[0], p[1]), _Page(*p[2:])) for p in tree["pages"])
        relay._state = SharedState.from_json(tree["state"], relay.limits.state)
        relay._digests = OrderedDict(tree["digests"])
        relay.relayed, relay.duplicates, relay.drifts, relay.dropped = tree["counters"]
        if buffer is None:
            relay._buffered_since = relay.n
        else:
            relay._buffer.extend(_Buffered(*json.loads(text)) for text in buffer)
        return relay

    def new_buffered(self) -> tuple[str, ...]:
        """The replay buffer's items numbered since the relay was built, as texts for ``from_json``."""
        fresh = list(itertools.takewhile(lambda b: b.n > self._loaded_n, reversed(self._buffer)))
        return tuple(json.dumps([b.n, b.at, b.exclude, b.window, b.message], separators=(",", ":"),
                                ensure_ascii=False) for b in reversed(fresh))

    def settled(self) -> None:
        """Its text (and ``new_buffered``) were written: only what it numbers from now on is new
        (a relay kept beside its text, used again while the text is unchanged)."""
        self._loaded_n = self.n

    @staticmethod
    def needs_buffer(message: Inbound) -> bool:
        """Whether ``receive(message)`` may read the replay buffer (a reconnecting page's hello)."""
        return message.type == "hello" and bool(message.fields.get("last"))

    # ---- what the shell asks

    @property
    def current_url(self) -> str:
        """The controller's main-window real URL ("" if unknown)."""
        return self._state.current_url

    def connected(self, participant_id: str) -> bool:
        """Whether the participant has a greeted page open (a socket that sent ``hello``)."""
        return self._connected(participant_id)

    def conn_ids(self) -> tuple[str, ...]:
        """The open connections (greeted or not)."""
        return tuple(self._conns)

    def conns_of(self, participant_id: str) -> int:
        """How many connections the participant has open (greeted or not)."""
        return sum(1 for c in self._conns.values() if c.member.id == participant_id)

    def counters(self) -> dict[str, Any]:
        return {"relayed": self.relayed, "duplicates": self.duplicates, "drift": self.drifts,
                "dropped": dict(self.dropped), "connections": len(self._conns), "n": self.n}

    def snapshot(self) -> dict[str, Any]:
        return self._state.snapshot(self.controller)

    # ---- events

    def open(self, conn_id: str, member: Member, origin: str, roster: Iterable[Member] = ()) -> Outcome:
        """A socket was admitted; nothing is sent until its ``hello``."""
        for known in roster:
            self._roster[known.id] = known
        self._roster[member.id] = member
        self._conns[conn_id] = _Conn(conn_id, member, origin)
        return NOTHING

    def close(self, conn_id: str, now: float) -> Outcome:
        conn = self._conns.pop(conn_id, None)
        if conn is None or conn.page is None or self.ended:
            return NOTHING
        page = self._pages.get(conn.page)
        if page is not None:
            page.seen = now
        if self._connected(conn.member.id):
            return NOTHING
        return self._broadcast_participants(conn.member.id, now)

    def drop(self, conn_ids: Iterable[str], now: float) -> Outcome:
        """Connections that are gone without a ``close`` (their server process died): closed,
        with what closing them tells the others."""
        sends: list[Send] = []
        for conn_id in conn_ids:
            sends.extend(self.close(conn_id, now).sends)
        return Outcome(sends=tuple(sends))

    def idle(self, conn_id: str) -> Outcome:
        """The socket has been quiet: acknowledge what is pending."""
        conn = self._conns.get(conn_id)
        page = self._pages.get(conn.page) if conn is not None and conn.page is not None else None
        if conn is None or page is None or page.unacked == 0:
            return NOTHING
        page.unacked = 0
        return Outcome(sends=(Send((conn_id,), {"type": "ack", "seq": page.last_seq}),))

    def end(self) -> Outcome:
        """End the session: every connection gets ``ended`` and is closed with 4000."""
        if self.ended:
            return NOTHING
        self.ended = True
        everyone = tuple(self._conns)
        notice = {"type": "ended", "redirect": self.end_redirect}
        return Outcome(sends=(Send(everyone, notice),) if everyone else (),
                       closes=tuple(Close(c, CLOSE_ENDED, "session ended") for c in everyone), end=True)

    def give(self, to: Member, now: float) -> Outcome:
        """The agent hands control to ``to`` from outside the sockets (the REST API), under the
        rules of the leader's own ``control`` message: a grant to a follower (refused in a
        view-only session: nothing happens), and for the leader a take (which, by the consent
        rule, asks a connected follower who drives instead of taking)."""
        if self.ended:
            return NOTHING
        self._roster.setdefault(to.id, to)
        leader = self._roster.get(self.leader_id) or Member(self.leader_id, "leader", "")
        action = "take" if to.id == self.leader_id else "grant"
        return self._control(leader, {"action": action, "to": to.id}, now)

    def remove(self, participant_id: str, now: float) -> Outcome:
        """A participant was removed from the session: its sockets are closed with
        ``CLOSE_REMOVED``, it leaves the roster, and control it held goes back to the leader."""
        if self.ended or participant_id == self.leader_id:
            return NOTHING
        self._roster.pop(participant_id, None)
        gone = tuple(c.id for c in self._conns.values() if c.member.id == participant_id)
        for conn_id in gone:
            del self._conns[conn_id]
        sends: list[Send] = []
        outcome = NOTHING
        if self.controller == participant_id:
            outcome = self._hand_to(self.leader_id, self.leader_id, now, "taken")
            sends.extend(outcome.sends)
        sends.extend(self._broadcast_participants(participant_id, now).sends)
        closes = tuple(Close(c, CLOSE_REMOVED, "you were removed from this session") for c in gone)
        return replace(outcome, sends=tuple(sends), closes=closes)

    def announce(self, url: str, now: float) -> Outcome:
        """The server saw the controller's main window load ``url``, a page without a runtime
        (JSON, plain text, an image): relayed as the controller's ``nav`` (kind "load"), since
        no socket of that page will send it."""
        if self.ended:
            return NOTHING
        fields = {"url": url, "kind": "load"}
        self._state.apply("nav", fields, "main", "")
        return self._numbered("nav", fields, self.controller, "main", now)

    def receive(self, conn_id: str, message: Inbound, now: float) -> Outcome:
        conn = self._conns.get(conn_id)
        if conn is None or self.ended:
            return NOTHING
        if message.type == "hello":
            if conn.page is not None:
                return Outcome(closes=(Close(conn_id, CLOSE_POLICY, "hello twice"),))
            return self._hello(conn, message, now)
        if conn.page is None:
            return Outcome(closes=(Close(conn_id, CLOSE_POLICY, "hello first"),))
        page = self._pages[conn.page]
        page.seen = now
        if message.seq <= page.last_seq:
            self.duplicates += 1
            return Outcome(sends=(Send((conn_id,), {"type": "ack", "seq": page.last_seq}),))
        page.last_seq = message.seq
        page.unacked += 1
        outcome = self._dispatch(conn, page, message, now)
        if not outcome.end and (page.unacked >= self.limits.ack_every or message.type in _ACK_NOW):
            page.unacked = 0
            ack = Send((conn_id,), {"type": "ack", "seq": page.last_seq})
            outcome = replace(outcome, sends=(*outcome.sends, ack))
        return outcome

    # ---- message kinds

    def _dispatch(self, conn: _Conn, page: _Page, message: Inbound, now: float) -> Outcome:
        sender = conn.member.id
        if message.type in INPUT_TYPES:
            if sender != self.controller:
                self.dropped[sender] = self.dropped.get(sender, 0) + 1
                return NOTHING
            if message.type in STATE_TYPES:
                self._state.apply(message.type, message.fields, conn.window, conn.origin)
            scope = None if message.type == "window" else conn.window
            return self._numbered(message.type, message.fields, sender, scope, now)
        if message.type == "pointer":
            to = self._recipients(sender, conn.window)
            self.relayed += 1
            body = {**message.fields, "type": "pointer", "from": sender}
            return Outcome(sends=(Send(to, body),)) if to else NOTHING
        if message.type == "digest":
            return self._digest(conn, page, message.fields)
        if message.type == "control":
            return self._control(conn.member, message.fields, now)
        if message.type == "end" and conn.member.role == "leader":
            return self.end()
        if message.type == "privacy":  # not relayed: only the server's audit redaction reads it
            return Outcome(masked=tuple(str(name) for name in message.fields["names"]))
        self._refuse(sender)
        return NOTHING

    def _hello(self, conn: _Conn, message: Inbound, now: float) -> Outcome:
        fields = message.fields
        member = conn.member
        conn.page = (member.id, str(fields["page"]))
        conn.window = str(fields.get("window") or "main")
        page = self._pages.pop(conn.page, None) or _Page()
        page.seen = now
        self._pages[conn.page] = page
        self._forget_pages(now)
        if member.id == self.controller and fields.get("url"):
            self._state.set_window_url(conn.window, str(fields["url"]))
        sends: list[Send] = []
        joined = sum(1 for c in self._conns.values() if c.member.id == member.id and c.page is not None) == 1
        if joined:
            sends.extend(self._broadcast_participants(member.id, now).sends)
        last = int(fields.get("last") or 0)
        replay = last > 0 and self._covers(last, now)
        welcome = {"type": "welcome", "you": {"id": member.id, "role": member.role, "name": member.name},
                   "controller": self.controller, "participants": self._participants(),
                   "rules": {"view_only": self.rules.view_only, "consent": self.rules.consent},
                   "state": None if replay else self.snapshot(), "n": self.n, "seq": page.last_seq}
        sends.append(Send((conn.id,), welcome))
        if replay:
            sends.extend(Send((conn.id,), item.message) for item in self._buffer
                         if item.n > last and self._meant_for(item, conn))
        return Outcome(sends=tuple(sends))

    def _control(self, member: Member, fields: Mapping[str, Any], now: float) -> Outcome:
        action = fields["action"]
        if member.role != "leader":
            return self._follower_control(member, action, str(fields.get("to") or ""), now)
        if action == "grant":
            target = self._roster.get(str(fields.get("to") or ""))
            if target is None or (self.rules.view_only and target.role != "leader"):
                self._refuse(member.id)
                return NOTHING
            return self._hand_to(target.id, member.id, now, "granted")
        if action in ("revoke", "take"):
            if self.rules.consent and self.controller != self.leader_id and self._connected(self.controller):
                # The follower drives: it is asked, and answers with grant or decline.
                return self._noted(self._numbered("control", {"controller": self.controller, "requested_by": member.id},
                                                  member.id, None, now, include_sender=True), "requested", member.id)
            return self._hand_to(self.leader_id, member.id, now, "taken")
        self._refuse(member.id)  # a leader "requesting" control it can simply take
        return NOTHING

    def _follower_control(self, member: Member, action: str, to: str, now: float) -> Outcome:
        """A follower asks for control (not in a view-only session), or, while in control,
        hands it back to the leader (``grant`` to the leader) or declines the leader's ask."""
        driving = member.id == self.controller
        if action == "request" and not driving and not self.rules.view_only:
            return self._noted(self._numbered("control", {"controller": self.controller, "requested_by": member.id},
                                              member.id, None, now, include_sender=True), "requested", member.id)
        if driving and action == "grant" and to == self.leader_id:
            return self._hand_to(self.leader_id, member.id, now, "returned")
        if driving and action == "decline":
            return self._noted(self._numbered("control", {"controller": self.controller, "declined_by": member.id},
                                              member.id, None, now, include_sender=True), "declined", member.id)
        self._refuse(member.id)
        return NOTHING

    def _hand_to(self, new: str, by: str, now: float, action: str) -> Outcome:
        self.controller = new
        out = self._numbered("control", {"controller": new}, by, None, now, include_sender=True)
        return Outcome(out.sends, controller=new, control_action=action, control_by=by)

    @staticmethod
    def _noted(outcome: Outcome, action: str, by: str) -> Outcome:
        return replace(outcome, control_action=action, control_by=by)

    def _digest(self, conn: _Conn, page: _Page, fields: Mapping[str, Any]) -> Outcome:
        url, value = str(fields["url"]), str(fields["hash"])
        if conn.member.id == self.controller:
            self._digests.pop(url, None)
            self._digests[url] = value
            while len(self._digests) > self.limits.max_digest_urls:
                self._digests.popitem(last=False)
            return NOTHING
        expected = self._digests.get(url)
        if page.digest_url != url:
            page.digest_url, page.mismatches = url, 0
        if expected is None or expected == value:
            page.mismatches = 0
            return NOTHING
        page.mismatches += 1
        if page.mismatches < self.limits.drift_after:
            return NOTHING
        page.mismatches = 0
        self.drifts += 1
        return Outcome(sends=(Send((conn.id,), {"type": "drift", "url": url}),))

    # ---- shared state

    # ---- numbering, buffering, fan-out

    def _numbered(self, kind: str, fields: Mapping[str, Any], sender: str, window: str | None, now: float,
                  include_sender: bool = False) -> Outcome:
        self.n += 1
        self.relayed += 1
        message = {**fields, "type": kind, "n": self.n, "from": sender}
        item = _Buffered(self.n, now, "" if include_sender else sender, window, message)
        self._buffer.append(item)
        self._trim(now)
        to = tuple(c.id for c in self._conns.values() if c.page is not None and self._meant_for(item, c))
        return Outcome(sends=(Send(to, message),)) if to else NOTHING

    def _meant_for(self, item: _Buffered, conn: _Conn) -> bool:
        return conn.member.id != item.exclude and (item.window is None or item.window == conn.window)

    def _recipients(self, sender: str, window: str) -> tuple[str, ...]:
        return tuple(c.id for c in self._conns.values()
                     if c.page is not None and c.member.id != sender and c.window == window)

    def _covers(self, last: int, now: float) -> bool:
        """Whether every numbered message after ``last`` is still in the buffer."""
        self._trim(now)
        if last > self.n:
            return False  # a number from before this relay existed (e.g. a server restart)
        if last < self._buffered_since:
            return False  # rebuilt without its buffer
        if last == self.n:
            return True
        return bool(self._buffer) and self._buffer[0].n <= last + 1

    def _trim(self, now: float) -> None:
        limits = self.limits
        while self._buffer and (len(self._buffer) > limits.buffer_messages
                                or self._buffer[0].at < now - limits.buffer_seconds):
            self._buffer.popleft()

    def _forget_pages(self, now: float) -> None:
        live = {c.page for c in self._conns.values()}
        stale = [key for key, page in self._pages.items()
                 if key not in live and page.seen < now - self.limits.page_memory_seconds]
        for key in stale:
            del self._pages[key]
        while len(self._pages) > self.limits.max_pages:
            oldest = next((k for k in self._pages if k not in live), None)
            if oldest is None:
                break
            del self._pages[oldest]

    # ---- participants

    def _connected(self, participant_id: str) -> bool:
        return any(c.member.id == participant_id and c.page is not None for c in self._conns.values())

    def _participants(self) -> list[dict[str, Any]]:
        return [{"id": m.id, "role": m.role, "name": m.name, "connected": self._connected(m.id)}
                for m in self._roster.values()]

    def _broadcast_participants(self, cause: str, now: float) -> Outcome:
        return self._numbered("participants", {"participants": self._participants()}, cause, None, now)

    def _refuse(self, participant_id: str) -> None:
        self.dropped[participant_id] = self.dropped.get(participant_id, 0) + 1

