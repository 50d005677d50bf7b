"""The relay kept as text between events (``Relay.to_json``/``from_json``, the replay buffer in a
list beside it) behaves exactly as one kept alive: what several processes sharing a relay rely on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_relay import FOLLOWER, LEADER, ORIGIN, OTHER, URL, three

from sessions.protocol import Inbound
from sessions.relay import ControlRules, Limits, Member, Outcome, Relay

MEMBERS = (LEADER, FOLLOWER, OTHER)
LIMITS = Limits(buffer_messages=6, buffer_seconds=30.0, max_pages=4, max_digest_urls=2)
Step = Callable[[Relay, float], Outcome]


def _text(tree: Any) -> str:
    return json.dumps(tree, separators=(",", ":"), sort_keys=True)


def _outcome(outcome: Outcome) -> str:
    return _text({"sends": [[list(s.to), dict(s.message)] for s in outcome.sends],
                  "closes": [[c.conn, c.code, c.reason] for c in outcome.closes],
                  "rest": [outcome.controller, outcome.end, list(outcome.masked), outcome.control_action,
                           outcome.control_by]})


class Rebuilt:
    """A relay that exists only as text between steps, its buffer in a list trimmed by count."""

    def __init__(self, relay: Relay) -> None:
        self.tree = _text(relay.to_json())
        self.items: list[str] = list(relay.new_buffered())

    def run(self, step: Step, now: float, message: Inbound | None) -> tuple[Outcome, Relay]:
        loaded = self.items if message is not None and Relay.needs_buffer(message) else None
        relay = Relay.from_json(json.loads(self.tree), loaded, LIMITS)
        outcome = step(relay, now)
        self.tree = _text(relay.to_json())
        self.items = [*self.items, *relay.new_buffered()][-LIMITS.buffer_messages:]
        return outcome, relay


def _message(kind: str, seq: int, value: int) -> Inbound:
    table: dict[str, dict[str, Any]] = {
        "input": {"target": ["#q"], "value": f"v{value}"},
        "scroll": {"target": None, "x": 0, "y": value},
        "nav": {"url": f"{URL}?p={value % 3}", "kind": "load"},
        "storage": {"area": "local", "key": f"k{value % 2}", "value": str(value)},
        "pointer": {"x": value, "y": value},
        "digest": {"url": URL, "hash": f"h{value % 2}"},
        "control": {"action": ("request", "grant", "take", "decline")[value % 4], "to": MEMBERS[value % 3].id},
        "privacy": {"names": [f"f{value}"]},
    }
    return Inbound(kind, seq, table[kind])


_KINDS = st.sampled_from(("input", "scroll", "nav", "storage", "pointer", "digest", "control", "privacy"))
_CONN = st.integers(0, 5)  # connection slots: slot i belongs to MEMBERS[i % 3]
_EVENTS = st.one_of(
    st.tuples(st.just("say"), _CONN, _KINDS, st.integers(0, 9)),
    st.tuples(st.just("dup"), _CONN, st.just(""), st.just(0)),
    st.tuples(st.just("reconnect"), _CONN, st.just(""), st.integers(0, 12)),
    st.tuples(st.just("close"), _CONN, st.just(""), st.just(0)),
    st.tuples(st.just("idle"), _CONN, st.just(""), st.just(0)),
    st.tuples(st.just("give"), st.integers(0, 2), st.just(""), st.just(0)),
    st.tuples(st.just("remove"), st.integers(1, 2), st.just(""), st.just(0)),
    st.tuples(st.just("announce"), st.just(0), st.just(""), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.just(0), st.just(""), st.integers(1, 40)),
    st.tuples(st.just("drop"), _CONN, st.just(""), st.just(0)),
    st.tuples(st.just("end"), st.just(0), st.just(""), st.just(0)),
)


class Scenario:
    """Turns generated events into relay steps, tracking connection names and seqs."""

    def __init__(self) -> None:
        self.generation = [0] * 6
        self.seq: dict[str, int] = {}
        self.now = 1000.0

    def conn(self, slot: int) -> str:
        return f"c{slot}.{self.generation[slot]}"

    def step(self, event: tuple[str, int, str, int]) -> tuple[Step, Inbound | None]:
        action, slot, kind, value = event
        member = MEMBERS[slot % 3]
        conn = self.conn(slot)
        if action == "say":
            self.seq[conn] = self.seq.get(conn, 0) + 1
            message = _message(kind, self.seq[conn], value)
            return (lambda r, now: r.receive(conn, message, now)), message
        if action == "dup":
            message = _message("scroll", self.seq.get(conn, 0), 1)
            return (lambda r, now: r.receive(conn, message, now)), message
        if action == "reconnect":
            self.generation[slot] += 1
            fresh = self.conn(slot)
            hello = Inbound("hello", 0, {"page": f"page{slot}", "window": "main", "url": URL, "last": value})

            def again(r: Relay, now: float) -> Outcome:
                r.close(conn, now)
                r.open(fresh, member, ORIGIN, MEMBERS)
                return r.receive(fresh, hello, now)
            return again, hello
        simple: dict[str, Step] = {
            "close": lambda r, now: r.close(conn, now),
            "idle": lambda r, now: r.idle(conn),
            "give": lambda r, now: r.give(MEMBERS[slot], now),
            "remove": lambda r, now: r.remove(MEMBERS[slot].id, now),
            "announce": lambda r, now: r.announce(f"{URL}.json?{value}", now),
            "wait": lambda r, now: Outcome(),
            "drop": lambda r, now: r.drop([conn], now),
            "end": lambda r, now: r.end(),
        }
        if action == "wait":
            self.now += value
        return simple[action], None


def _greeting(conn: str, member: Member, hello: Inbound) -> tuple[Step, Step]:
    def opened(relay: Relay, now: float) -> Outcome:
        return relay.open(conn, member, ORIGIN, MEMBERS)

    def greeted(relay: Relay, now: float) -> Outcome:
        return relay.receive(conn, hello, now)
    return opened, greeted


@settings(max_examples=500, deadline=None)
@given(st.lists(_EVENTS, max_size=40), st.booleans(), st.booleans())
@example([("say", 0, "digest", 0), *[("say", 1, "digest", 1)] * 3], False, False)
@example([("say", 0, "input", 1), ("close", 1, "", 0), ("say", 0, "input", 2), ("say", 3, "scroll", 3),
          ("reconnect", 1, "", 7)], False, False)
def test_a_relay_rebuilt_from_text_between_every_event_gives_the_same_outcomes(
        events: list[tuple[str, int, str, int]], view_only: bool, consent: bool) -> None:
    alive = Relay("sess", LEADER.id, LEADER.id, URL, "https://bye.example/", LIMITS,
                  ControlRules(view_only, consent))
    rebuilt = Rebuilt(alive)
    scenario = Scenario()
    for slot in range(6):
        hello = Inbound("hello", 0, {"page": f"page{slot}", "window": "main", "url": URL, "last": 0})
        conn, member = scenario.conn(slot), MEMBERS[slot % 3]
        for step in _greeting(conn, member, hello):
            assert _outcome(step(alive, scenario.now)) == _outcome(rebuilt.run(step, scenario.now, hello)[0])
    for event in events:
        step, message = scenario.step(event)
        expected = _outcome(step(alive, scenario.now))
        outcome, relay = rebuilt.run(step, scenario.now, message)
        assert _outcome(outcome) == expected, event
        assert relay.controller == alive.controller and relay.current_url == alive.current_url
        assert relay.counters() == alive.counters()
    assert rebuilt.tree == _text(alive.to_json())


def test_to_json_and_back_is_the_same_relay() -> None:
    script = three(ControlRules(consent=True))
    script.say("cL", "input", target=["#q"], value="x")
    script.say("cL", "storage", area="local", key="k", value="v")
    script.say("cL", "digest", url=URL, hash="h")
    script.relay.give(FOLLOWER, script.now)
    tree = json.loads(_text(script.relay.to_json()))
    again = Relay.from_json(tree, script.relay.new_buffered())
    assert _text(again.to_json()) == _text(script.relay.to_json())
    assert again.snapshot() == script.relay.snapshot() and again.new_buffered() == ()


def test_a_reconnect_replays_from_the_buffer_list_and_without_it_gets_the_snapshot() -> None:
    script = three()
    last = script.relay.n
    script.relay.close("cF", script.now)
    script.say("cL", "input", target=["#q"], value="missed")
    tree, items = json.loads(_text(script.relay.to_json())), script.relay.new_buffered()
    hello = Inbound("hello", 0, {"page": "cF", "window": "main", "url": URL, "last": last})
    assert Relay.needs_buffer(hello)
    for buffer, replayed in ((items, ["missed"]), (None, [])):
        relay = Relay.from_json(tree, buffer)
        relay.open("cF2", FOLLOWER, ORIGIN)
        sends = [dict(s.message) for s in relay.receive("cF2", hello, script.now).sends if "cF2" in s.to]
        assert (sends[0]["state"] is None) == bool(replayed)
        assert [m["value"] for m in sends[1:] if m["type"] == "input"] == replayed


def test_drop_closes_connections_of_a_dead_process_and_tells_the_others() -> None:
    script = three()
    out = script.relay.drop(["cG", "unknown"], script.now)
    [listed] = [m["participants"] for s in out.sends if "cL" in s.to for m in [s.message]]
    assert {p["id"]: p["connected"] for p in listed}[OTHER.id] is False
    assert "cG" not in script.relay.conn_ids() and script.relay.conns_of(OTHER.id) == 0
    assert script.relay.conns_of(FOLLOWER.id) == 1
