"""The response store's shared state: one session's ledger, entry metadata and open target
sockets as one JSON value, and every change to it as a pure step.

``sessions.responses`` keeps this value in the shared state (``sessions.shared``) and changes it
only inside ``Shared.transact``: a step reads the state, changes it and says what it decided
(which entry a follower gets, which bodies to drop), so two processes never hand one driver
entry to two requests of one follower, and the budget is kept across processes.

Held here per entry (``Meta``): the name (``token``) of its immutable record (key, head, raw:
written once before the entry is recorded) and body, what matching and serving need to decide
(document, cacheable, commits), and what changes (size, complete, too large, evicted, failure).
The bodies themselves are separate byte strings; ``held`` is the sum of the sizes of the bodies
still held. Invariants, as in memory before: bodies together stay within the budget (the
oldest complete ones go first; never the latest document, never one still arriving); at most
``max_entries`` entries are known (the oldest forgotten; the ledger keeps their ids, so order
holds); a closed state (the session ended) is a tombstone no step changes.

Pure: no I/O, no clock; ``state_of(state_json(s))`` equals ``s``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from sessions.matching import Ledger, RequestKey, key_row, ledger_json, ledger_of

_READS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class Failure:
    """The driver's exchange failed: followers get the same clear page at once."""

    status: int
    title: str
    message: str


@dataclass(slots=True)
class Meta:
    """What the shared state knows of one entry (its record and body are named by ``token``)."""

    token: str
    document: bool
    cacheable: bool
    commits: bool
    size: int = 0
    complete: bool = False
    too_large: bool = False
    evicted: bool = False
    failure: Failure | None = None

    @property
    def servable(self) -> bool:
        return self.failure is None and not self.too_large and not self.evicted


@dataclass(frozen=True, slots=True)
class Socket:
    """A driver's open target WebSocket: followers attach to the latest for their key."""

    key: RequestKey
    id: str
    protocol: str


@dataclass(slots=True)
class State:
    ledger: Ledger = field(default_factory=Ledger)
    entries: dict[int, Meta] = field(default_factory=dict)  # by id, oldest first
    next_id: int = 1
    held: int = 0
    sockets: list[Socket] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # closed sockets whose backlogs are still kept
    closed: bool = False
    changed: bool = False  # a step changed it (not part of the JSON form): it is to be written
    rows: Rows = field(default_factory=lambda: Rows())  # its rows as text, kept between writes


@dataclass(frozen=True, slots=True)
class Limits:
    max_response: int
    budget: int
    max_entries: int
    kept_sockets: int = 256


# -- the JSON form ------------------------------------------------------------------------------

def _meta_json(entry_id: int, meta: Meta) -> list[Any]:
    failure = None if meta.failure is None else [meta.failure.status, meta.failure.title, meta.failure.message]
    return [entry_id, meta.token, meta.document, meta.cacheable, meta.commits, meta.size, meta.complete,
            meta.too_large, meta.evicted, failure]


def _meta_of(data: list[Any]) -> tuple[int, Meta]:
    entry_id, token, document, cacheable, commits, size, complete, too_large, evicted, failure = data
    return entry_id, Meta(token, document, cacheable, commits, size, complete, too_large, evicted,
                          None if failure is None else Failure(*failure))


def state_json(state: State) -> str:
    """The JSON form: ``[rest, [key rows], [entry rows]]``. Rows are kept as text between
    writes (``State.rows``), so writing a state that grew by one entry does not encode every
    other entry again."""
    if state.closed:
        return CLOSED
    keys = state.rows.keys(state.ledger.by_key)
    rest = json.dumps({
        "next": state.next_id, "held": state.held,
        "ledger": ledger_json(state.ledger, keys=False, places=state.rows.places),
        "sockets": [[[s.key.method, s.key.url, s.key.body, s.key.range], s.id, s.protocol] for s in state.sockets],
        "gone": state.gone,
    }, separators=_COMPACT)
    return f"[{rest},[{keys}],[{state.rows.entries(state.entries)}]]"


def state_of(text: str | None) -> State:
    """The state ``text`` holds (a fresh one for None)."""
    if text is None:
        return State()
    data = json.loads(text)
    if isinstance(data, dict):  # CLOSED
        return State(closed=True)
    rest, keys, entries = data
    return State(ledger_of({**rest["ledger"], "keys": keys}), dict(_meta_of(m) for m in entries), rest["next"],
                 rest["held"], [Socket(RequestKey(*k), i, p) for k, i, p in rest["sockets"]], list(rest["gone"]))


_COMPACT = (",", ":")


class Rows:
    """Key and entry rows as JSON text, kept between writes: a key's row while its ids have not
    grown (``by_key`` only ever grows, in order), an entry's until a step changes its metadata
    (``touch``); and each key's place in ``by_key``."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, str]] = []
        self._entries: dict[int, str] = {}
        self._touched: set[int] = set()
        self.places: dict[RequestKey, int] = {}

    def touch(self, entry_id: int) -> None:
        self._touched.add(entry_id)

    def keys(self, by_key: dict[RequestKey, list[int]]) -> str:
        for key in islice(by_key, len(self.places), None):
            self.places[key] = len(self.places)
        rows = self._keys
        for place, (key, ids) in enumerate(by_key.items()):
            if place == len(rows):
                rows.append((-1, ""))
            if rows[place][0] != len(ids):
                rows[place] = (len(ids), json.dumps(key_row(key, ids), separators=_COMPACT))
        return ",".join(row for _, row in rows)

    def entries(self, entries: dict[int, Meta]) -> str:
        kept, touched = self._entries, self._touched
        for entry_id in touched:
            kept.pop(entry_id, None)
        touched.clear()
        if len(kept) > 2 * len(entries) + 64:  # rows of forgotten entries
            self._entries = kept = {i: row for i, row in kept.items() if i in entries}
        for entry_id, meta in entries.items():
            if entry_id not in kept:
                kept[entry_id] = json.dumps(_meta_json(entry_id, meta), separators=_COMPACT)
        return ",".join(kept[i] for i in entries)


CLOSED = json.dumps({"closed": True})


# -- the driver's side ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Dropped:
    """Tokens whose bodies (``bodies``) or records and bodies (``records``) a step let go of:
    the caller deletes them after the transaction."""

    bodies: tuple[str, ...] = ()
    records: tuple[str, ...] = ()


def begin(state: State, limits: Limits, driver: str, key: RequestKey, meta: Meta, *,
          navigation: bool, failure: Failure | None = None) -> tuple[int, Dropped]:
    """Record the driver's entry (its record is written already); its id and what was forgotten."""
    entry_id = state.next_id
    state.next_id += 1
    state.changed = True
    if failure is not None:
        meta = replace(meta, failure=failure, complete=True)
    state.entries[entry_id] = meta
    state.ledger.record(driver, key, entry_id, navigation=navigation, page=navigation and meta.commits)
    forgotten: list[str] = []
    while len(state.entries) > limits.max_entries:
        oldest = next(iter(state.entries))
        forgotten.append(_release(state, state.entries.pop(oldest)))
    return entry_id, Dropped(records=tuple(forgotten))


def grow(state: State, limits: Limits, entry_id: int, length: int) -> tuple[Meta | None, Dropped]:
    """The entry's body is now ``length`` bytes long (the bytes are appended already). Past
    ``max_response`` it is too large to share and its body is dropped; over the budget, older
    complete bodies go. The entry as it now stands (None: forgotten)."""
    meta = state.entries.get(entry_id)
    if meta is None or meta.too_large or meta.complete or meta.evicted:
        return meta, Dropped()
    state.changed = True
    state.rows.touch(entry_id)
    if length > limits.max_response:
        dropped = _release(state, meta)
        meta.too_large = True
        return meta, Dropped(bodies=(dropped,))
    state.held += length - meta.size
    meta.size = length
    return meta, _evict_over_budget(state, limits)


def finish(state: State, limits: Limits, entry_id: int, length: int) -> tuple[Meta | None, Dropped]:
    """The driver has the whole body, ``length`` bytes (counted now if it is still held)."""
    meta = state.entries.get(entry_id)
    if meta is None:
        return None, Dropped()
    if meta.servable and not meta.complete:
        state.held += length - meta.size
        meta.size = length
    meta.complete = state.changed = True
    state.rows.touch(entry_id)
    return meta, _evict_over_budget(state, limits)


def fail(state: State, entry_id: int, failure: Failure) -> tuple[Meta | None, Dropped]:
    """The driver's body broke off: readers stop, later followers get ``failure``."""
    meta = state.entries.get(entry_id)
    if meta is None:
        return None, Dropped()
    dropped = _release(state, meta)
    meta.failure, meta.complete, state.changed = failure, True, True
    state.rows.touch(entry_id)
    return meta, Dropped(bodies=(dropped,))


def _release(state: State, meta: Meta) -> str:
    """The entry's body no longer counts as held; its token (the caller drops the bytes)."""
    state.held -= meta.size
    meta.size = 0
    return meta.token


def _evict_over_budget(state: State, limits: Limits) -> Dropped:
    if state.held <= limits.budget:
        return Dropped()
    latest_document = max((i for i, m in state.entries.items() if m.document and m.size), default=0)
    evicted: list[str] = []
    for entry_id, meta in state.entries.items():
        if state.held <= limits.budget:
            break
        if meta.size and meta.complete and entry_id != latest_document:
            evicted.append(_release(state, meta))
            meta.evicted = True
            state.rows.touch(entry_id)
    return Dropped(bodies=tuple(evicted))


# -- the followers' side: every decision taken inside the transaction ----------------------------

Found = tuple[int, Meta] | None  # the entry to serve


def _found(state: State, entry_id: int | None) -> Found:
    meta = None if entry_id is None else state.entries.get(entry_id)
    return None if meta is None or entry_id is None else (entry_id, replace(meta))


def claim(state: State, participant: str, key: RequestKey) -> tuple[bool, Found]:
    """A follower request paired in order (``Ledger.claim``); else the copy the driver's browser
    had, when it left that page or would reuse the copy. (decided, entry): not decided yet
    while the follower should wait for the driver's next entry."""
    ledger = state.ledger
    before = _follower_record(ledger, participant, key)
    entry_id = ledger.claim(participant, key)
    state.changed = state.changed or _follower_record(ledger, participant, key) != before
    if entry_id is not None:
        return True, _found(state, entry_id) or _found(state, ledger.latest(key))
    fallback_id, page_left = ledger.fallback(participant, key)
    fallback = _found(state, fallback_id)
    if fallback is not None and (page_left or fallback[1].cacheable):
        return True, fallback
    return False, None


def given_up(state: State, key: RequestKey) -> Found:
    """After the wait: the latest copy for the key (a non-GET also the latest for method and URL)."""
    latest = _found(state, state.ledger.latest(key))
    if latest is not None or key.method in _READS:
        return latest
    return _found(state, state.ledger.latest_loose(key))


def land(state: State, participant: str, key: RequestKey, *, spa_route: bool, catch_up: bool) -> Found:
    """A follower's top-level navigation (``ResponseStore.match``): the driver's latest document
    for its URL (or the driver's page, for a pushState route) when newer than the follower's page
    or when it is time to catch up; it becomes the follower's page when it commits."""
    ledger = state.ledger
    document = ledger.latest_document(key.url)
    route_page = ledger.current_page if spa_route and document is None else 0
    fresh = max(document or 0, route_page)
    if not (fresh > ledger.page_of(participant) or catch_up):
        return None
    landing = _found(state, fresh or None)
    if landing is not None and landing[1].commits:
        ledger.enter(participant, landing[0])
        state.changed = True
    return landing


def _follower_record(ledger: Ledger, participant: str, key: RequestKey) -> tuple[int, int, int, int] | None:
    """What a claim for ``key`` may change of a follower's record (None: no record yet)."""
    follower = ledger.followers.get(participant)
    if follower is None:
        return None
    return follower.page, follower.seen, follower.floor, follower.consumed.get(key, 0)


# -- target WebSockets ----------------------------------------------------------------------------

def open_socket(state: State, socket: Socket) -> None:
    state.sockets.append(socket)
    state.changed = True


def close_socket(state: State, limits: Limits, socket_id: str) -> tuple[str, ...]:
    """The socket closed; the ids whose backlogs are now let go of (beyond ``kept_sockets``)."""
    state.sockets = [s for s in state.sockets if s.id != socket_id]
    state.gone.append(socket_id)
    state.changed = True
    over = len(state.gone) - limits.kept_sockets
    if over <= 0:
        return ()
    let_go, state.gone = state.gone[:over], state.gone[over:]
    return tuple(let_go)


def socket_for(state: State, key: RequestKey) -> Socket | None:
    """The latest open driver socket for ``key``."""
    return next((s for s in reversed(state.sockets) if s.key == key), None)
