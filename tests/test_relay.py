"""The relay core and the protocol tables as scripts of inputs and expected outputs (no sockets)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.protocol import Inbound, ProtocolError, TokenBucket, parse, path_key
from sessions.relay import ControlRules, Limits, Member, Outcome, Relay

LEADER = Member("pL", "leader", "Ann")
FOLLOWER = Member("pF", "follower", "Vic")
OTHER = Member("pG", "follower", "Gus")
ORIGIN = "http://example.com"
URL = "http://example.com/a"


class Script:
    """A relay with connections opened and greeted; ``say`` sends a message with the next seq."""

    def __init__(self, limits: Limits | None = None, rules: ControlRules | None = None) -> None:
        self.relay = Relay("sess", LEADER.id, LEADER.id, URL, "https://bye.example/", limits, rules)
        self.seq: dict[str, int] = {}
        self.now = 1000.0

    def join(self, conn: str, member: Member, page: str | None = None, window: str = "main",
             last: int = 0, url: str = URL) -> Outcome:
        self.relay.open(conn, member, ORIGIN, [LEADER])
        return self.relay.receive(conn, Inbound("hello", 0, {"page": page or conn, "window": window,
                                                             "url": url, "last": last}), self.now)

    def say(self, conn: str, kind: str, /, **fields: Any) -> Outcome:
        self.seq[conn] = self.seq.get(conn, 0) + 1
        return self.relay.receive(conn, Inbound(kind, self.seq[conn], fields), self.now)


def to(outcome: Outcome, conn: str) -> list[dict[str, Any]]:
    return [dict(s.message) for s in outcome.sends if conn in s.to]


def kinds(outcome: Outcome, conn: str) -> list[str]:
    return [m["type"] for m in to(outcome, conn)]


def refused(outcome: Outcome) -> bool:
    """Nothing happened but the sender's ack (control messages are acked at once)."""
    return outcome.controller is None and all(s.message["type"] == "ack" for s in outcome.sends)


def three(rules: ControlRules | None = None) -> Script:
    script = Script(rules=rules)
    script.join("cL", LEADER)
    script.join("cF", FOLLOWER)
    script.join("cG", OTHER)
    return script


def test_input_from_a_participant_not_in_control_is_dropped_counted_and_changes_nothing() -> None:
    script = three()
    n_before = script.relay.n
    for kind, fields in [("click", {"target": ["#b"]}), ("input", {"target": ["#q"], "value": "x"}),
                         ("nav", {"url": "http://example.com/evil", "kind": "load"}),
                         ("storage", {"area": "local", "key": "k", "value": "v"})]:
        outcome = script.say("cF", kind, **fields)
        assert kinds(outcome, "cL") == [] and kinds(outcome, "cG") == []
    assert script.relay.dropped == {FOLLOWER.id: 4}
    assert script.relay.n == n_before
    state = script.relay.snapshot()
    assert state["url"] == URL and state["forms"] == {} and state["storage"] == {}


def test_controller_input_goes_to_everyone_else_numbered_with_sender_and_never_back() -> None:
    script = three()
    outcome = script.say("cL", "click", target=["#b"], ox=0.5, oy=0.5, button=0)
    for conn in ("cF", "cG"):
        [message] = to(outcome, conn)
        assert message == {"type": "click", "target": ["#b"], "ox": 0.5, "oy": 0.5, "button": 0,
                           "n": script.relay.n, "from": LEADER.id}
    assert kinds(outcome, "cL") == []


def test_pointer_is_relayed_from_anyone_without_a_number_and_not_replayed() -> None:
    script = three()
    outcome = script.say("cF", "pointer", x=3, y=4)
    [message] = to(outcome, "cL")
    assert "n" not in message and message["from"] == FOLLOWER.id
    replayed = kinds(script.join("cL2", LEADER, page="again", last=1), "cL2")
    assert replayed[0] == "welcome" and "pointer" not in replayed


def test_events_reach_only_connections_of_the_senders_window_but_window_messages_reach_all() -> None:
    script = Script()
    script.join("cL", LEADER)
    script.join("cF", FOLLOWER)
    script.join("cF2", FOLLOWER, page="popup", window="w2")
    outcome = script.say("cL", "scroll", target=None, x=0, y=10)
    assert kinds(outcome, "cF") == ["scroll"] and kinds(outcome, "cF2") == []
    opened = script.say("cL", "window", action="open", window="w3", url="http://example.com/pop")
    assert kinds(opened, "cF") == ["window"] and kinds(opened, "cF2") == ["window"]
    assert script.relay.snapshot()["windows"]["w3"] == "http://example.com/pop"


def test_duplicate_seq_is_dropped_and_answered_with_the_cumulative_ack() -> None:
    script = three()
    script.say("cL", "input", target=["#q"], value="a")
    again = script.relay.receive("cL", Inbound("input", 1, {"target": ["#q"], "value": "a"}), script.now)
    assert to(again, "cF") == [] and to(again, "cL") == [{"type": "ack", "seq": 1}]
    assert script.relay.duplicates == 1


def test_acks_come_in_batches_and_when_idle() -> None:
    script = three()
    acks = []
    for i in range(20):
        acks += [m for m in to(script.say("cL", "scroll", target=None, x=0, y=i), "cL") if m["type"] == "ack"]
    assert acks == [{"type": "ack", "seq": 16}]
    assert to(script.relay.idle("cL"), "cL") == [{"type": "ack", "seq": 20}]
    assert script.relay.idle("cL") == Outcome()
    assert kinds(script.say("cL", "nav", url=URL + "#x", kind="hash"), "cL") == ["ack"]


def test_a_connection_must_say_hello_once_and_first() -> None:
    script = Script()
    script.relay.open("c1", LEADER, ORIGIN)
    early = script.relay.receive("c1", Inbound("click", 1, {"target": ["#b"]}), script.now)
    assert [(c.conn, c.code) for c in early.closes] == [("c1", 1008)]
    script.join("c2", LEADER)
    twice = script.relay.receive("c2", Inbound("hello", 0, {"page": "c2"}), script.now)
    assert [c.code for c in twice.closes] == [1008]


def test_reconnect_within_the_buffer_replays_exactly_the_missed_messages_for_that_socket() -> None:
    script = three()
    script.say("cL", "input", target=["#q"], value="seen")
    last = script.relay.n
    script.relay.close("cF", script.now)
    script.say("cL", "input", target=["#q"], value="missed-1")
    script.say("cL", "input", target=["#q"], value="missed-2")
    back = script.join("cF'", FOLLOWER, page="cF", last=last)
    messages = to(back, "cF'")
    assert messages[0]["type"] == "welcome" and messages[0]["state"] is None
    assert [m.get("value") for m in messages[1:] if m["type"] == "input"] == ["missed-1", "missed-2"]
    assert all(m["n"] > last for m in messages[1:])


def test_reconnect_after_the_gap_left_the_buffer_gets_a_state_snapshot_instead() -> None:
    script = Script(Limits(buffer_messages=3))
    script.join("cL", LEADER)
    script.join("cF", FOLLOWER)
    last = script.relay.n
    script.relay.close("cF", script.now)
    for i in range(5):
        script.say("cL", "input", target=["#q"], value=f"v{i}")
    [welcome] = to(script.join("cF2", FOLLOWER, page="cF", last=last), "cF2")
    assert welcome["state"]["forms"] == {'["#q"]': {"value": "v4"}} and welcome["n"] == script.relay.n


def test_reconnect_after_two_minutes_gets_a_state_snapshot() -> None:
    script = three()
    last = script.relay.n
    script.say("cL", "input", target=["#q"], value="old")
    script.now += 121
    [welcome, *rest] = to(script.join("cF2", FOLLOWER, page="cF", last=last), "cF2")
    assert welcome["state"] is not None and rest == []


def test_a_last_from_a_previous_relay_gets_a_state_snapshot() -> None:
    script = three()
    [welcome] = to(script.join("cF2", FOLLOWER, page="new", last=9999), "cF2")
    assert welcome["state"]["url"] == URL


def test_late_joiner_state_has_url_forms_scroll_storage_and_controller() -> None:
    script = Script()
    script.join("cL", LEADER)
    script.say("cL", "nav", url="http://example.com/form", kind="load")
    script.say("cL", "input", target=["#f", "input:1"], value="Ada", sel=[3, 3])
    script.say("cL", "input", target=["#f", "select:1"], selected=["b"])
    script.say("cL", "scroll", target=None, x=0, y=500, anchor={"path": ["#f"], "dy": 4})
    script.say("cL", "storage", area="local", key="theme", value="dark")
    [welcome] = to(script.join("cF", FOLLOWER), "cF")
    state = welcome["state"]
    assert state == {
        "url": "http://example.com/form", "windows": {"main": "http://example.com/form"},
        "scroll": {"null": {"x": 0, "y": 500, "anchor": {"path": ["#f"], "dy": 4}}},
        "forms": {path_key(["#f", "input:1"]): {"value": "Ada", "sel": [3, 3]},
                  path_key(["#f", "select:1"]): {"selected": ["b"]}},
        "storage": {ORIGIN: {"local": {"theme": "dark"}}}, "controller": LEADER.id}


def test_form_and_scroll_state_clear_on_a_new_page_but_not_on_a_fragment_change() -> None:
    script = Script()
    script.join("cL", LEADER)
    script.say("cL", "input", target=["#q"], value="kept")
    script.say("cL", "nav", url=URL + "#section", kind="hash")
    assert script.relay.snapshot()["forms"] != {}
    script.say("cL", "nav", url="http://example.com/b", kind="load")
    assert script.relay.snapshot()["forms"] == {} and script.relay.current_url == "http://example.com/b"


def test_storage_remove_and_clear() -> None:
    script = Script()
    script.join("cL", LEADER)
    script.say("cL", "storage", area="session", key="a", value="1")
    script.say("cL", "storage", area="session", key="b", value="2")
    script.say("cL", "storage", area="session", key="a", value=None)
    assert script.relay.snapshot()["storage"][ORIGIN]["session"] == {"b": "2"}
    script.say("cL", "storage", area="session", key=None)
    assert script.relay.snapshot()["storage"][ORIGIN]["session"] == {}


@pytest.mark.parametrize(("sender", "action", "extra", "controller", "persist"), [
    ("cF", "request", {}, LEADER.id, None),
    ("cL", "grant", {"to": FOLLOWER.id}, FOLLOWER.id, FOLLOWER.id),
    ("cL", "grant", {"to": "nobody"}, LEADER.id, None),
    ("cF", "grant", {"to": FOLLOWER.id}, LEADER.id, None),
    ("cF", "take", {}, LEADER.id, None),
    ("cL", "take", {}, LEADER.id, LEADER.id),
])
def test_control_actions_follow_the_leaders_authority(sender: str, action: str, extra: dict[str, str],
                                                      controller: str, persist: str | None) -> None:
    script = three()
    outcome = script.say(sender, "control", action=action, **extra)
    assert script.relay.controller == controller and outcome.controller == persist


def test_control_request_is_shown_to_everyone_and_grant_then_revoke_returns_to_the_leader() -> None:
    script = three()
    [asked] = [m for m in to(script.say("cF", "control", action="request"), "cL") if m["type"] == "control"]
    assert asked["requested_by"] == FOLLOWER.id and asked["controller"] == LEADER.id
    granted = script.say("cL", "control", action="grant", to=FOLLOWER.id)
    assert [m["controller"] for m in to(granted, "cG") if m["type"] == "control"] == [FOLLOWER.id]
    assert kinds(script.say("cF", "input", target=["#q"], value="mine"), "cL") == ["input"]
    assert kinds(script.say("cL", "input", target=["#q"], value="not now"), "cF") == []
    assert script.say("cL", "control", action="revoke").controller == LEADER.id


def test_view_only_session_refuses_follower_requests_and_grants_to_followers() -> None:
    script = three(ControlRules(view_only=True))
    welcome = script.join("cH", Member("pH", "follower", "Hal"))
    assert [m["rules"] for m in to(welcome, "cH") if m["type"] == "welcome"] == [{"view_only": True,
                                                                                  "consent": False}]
    assert refused(script.say("cF", "control", action="request"))
    assert refused(script.say("cL", "control", action="grant", to=FOLLOWER.id))
    assert script.relay.controller == LEADER.id
    assert script.relay.dropped == {FOLLOWER.id: 1, LEADER.id: 1}
    # Pointing and scrolling their own view is not control: nothing here stops a pointer.
    assert kinds(script.say("cF", "pointer", x=1, y=2, target=None, ox=0, oy=0), "cL") == ["pointer"]


def test_with_consent_the_leader_taking_control_asks_the_driving_follower_who_grants_or_declines() -> None:
    script = three(ControlRules(consent=True))
    script.say("cL", "control", action="grant", to=FOLLOWER.id)
    asked = script.say("cL", "control", action="take")
    assert asked.controller is None and script.relay.controller == FOLLOWER.id
    assert [m["requested_by"] for m in to(asked, "cF") if m["type"] == "control"] == [LEADER.id]
    declined = script.say("cF", "control", action="decline")
    assert [m.get("declined_by") for m in to(declined, "cL") if m["type"] == "control"] == [FOLLOWER.id]
    assert script.relay.controller == FOLLOWER.id
    script.say("cL", "control", action="revoke")  # asks again
    assert refused(script.say("cF", "control", action="grant", to=OTHER.id))  # only back to the leader
    back = script.say("cF", "control", action="grant", to=LEADER.id)
    assert back.controller == LEADER.id and script.relay.controller == LEADER.id
    assert script.relay.dropped == {FOLLOWER.id: 1}


def test_with_consent_control_is_taken_at_once_from_a_follower_no_longer_connected() -> None:
    script = three(ControlRules(consent=True))
    script.say("cL", "control", action="grant", to=FOLLOWER.id)
    script.relay.close("cF", script.now)
    assert script.say("cL", "control", action="take").controller == LEADER.id


def test_a_follower_in_control_may_hand_it_back_and_one_not_in_control_cannot_decline() -> None:
    script = three()
    assert refused(script.say("cF", "control", action="decline"))
    script.say("cL", "control", action="grant", to=FOLLOWER.id)
    assert script.say("cF", "control", action="grant", to=LEADER.id).controller == LEADER.id


def test_end_by_the_leader_notifies_and_closes_everyone_with_4000_and_a_follower_cannot() -> None:
    script = three()
    assert not script.say("cF", "end").end
    outcome = script.say("cL", "end")
    assert outcome.end
    for conn in ("cL", "cF", "cG"):
        assert to(outcome, conn) == [{"type": "ended", "redirect": "https://bye.example/"}]
    assert sorted((c.conn, c.code) for c in outcome.closes) == [("cF", 4000), ("cG", 4000), ("cL", 4000)]
    assert script.say("cL", "click", target=["#b"]) == Outcome()


def test_drift_is_sent_to_the_follower_after_two_mismatches_in_a_row() -> None:
    script = three()
    script.say("cL", "digest", url=URL, hash="good")
    assert script.say("cF", "digest", url=URL, hash="bad") == Outcome()
    assert script.say("cF", "digest", url=URL, hash="good") == Outcome()  # a match resets the count
    assert script.say("cF", "digest", url=URL, hash="bad") == Outcome()
    outcome = script.say("cF", "digest", url=URL, hash="bad")
    assert to(outcome, "cF") == [{"type": "drift", "url": URL}] and to(outcome, "cL") == []
    assert script.say("cG", "digest", url="http://example.com/unknown", hash="x") == Outcome()


def test_participants_are_announced_when_someone_first_connects_and_when_they_leave() -> None:
    script = Script()
    script.join("cL", LEADER)
    joined = script.join("cF", FOLLOWER)
    [announce] = to(joined, "cL")
    assert announce["type"] == "participants"
    assert {p["id"]: p["connected"] for p in announce["participants"]} == {LEADER.id: True, FOLLOWER.id: True}
    assert to(script.join("cF2", FOLLOWER, page="second"), "cL") == []
    assert script.relay.close("cF", script.now) == Outcome()  # still connected through cF2
    [left] = to(script.relay.close("cF2", script.now), "cL")
    assert {p["id"]: p["connected"] for p in left["participants"]}[FOLLOWER.id] is False


def test_replay_buffer_holds_at_most_its_message_limit() -> None:
    script = Script(Limits(buffer_messages=50))
    script.join("cL", LEADER)
    for i in range(500):
        script.say("cL", "scroll", target=None, x=0, y=i)
    assert len(script.relay._buffer) == 50
    assert [b.n for b in script.relay._buffer] == list(range(script.relay.n - 49, script.relay.n + 1))


def test_parse_checks_fields_and_strips_server_owned_keys() -> None:
    message = parse(json.dumps({"type": "click", "seq": 3, "target": ["#b"], "from": "pL", "n": 99}))
    assert message == Inbound("click", 3, {"target": ["#b"]})
    for bad in ['{"type":"click","seq":1}', '{"type":"click","seq":0,"target":["#b"]}',
                '{"type":"nav","seq":1,"url":"u","kind":"teleport"}', '{"type":"scroll","seq":1,"x":"1","y":2}',
                '{"type":"input","seq":1,"target":[]}', "[1,2]", "nope", '{"type":"click","seq":true,"target":["a"]}']:
        with pytest.raises(ProtocolError) as refused:
            parse(bad)
        assert refused.value.code == 1007, bad
    with pytest.raises(ProtocolError) as unknown:
        parse('{"type":"teleport","seq":1}')
    assert unknown.value.code == 1008
    with pytest.raises(ProtocolError) as big:
        parse(json.dumps({"type": "pointer", "seq": 1, "x": 1, "y": 1, "pad": "x" * 70_000}))
    assert big.value.code == 1009


def test_path_key_matches_json_stringify() -> None:
    assert path_key(["#main", "div:2", "input:1"]) == '["#main","div:2","input:1"]'
    assert path_key(None) == "null" and path_key(["#é"]) == '["#é"]'


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=200, burst=400)
    assert all(bucket.allow(0.0) for _ in range(400))
    assert not bucket.allow(0.0)
    assert sum(bucket.allow(1.0) for _ in range(400)) == 200


@given(st.text(max_size=300))
def test_parse_never_raises_anything_but_a_protocol_error(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse(text)


@given(st.dictionaries(st.sampled_from(["type", "seq", "target", "url", "kind", "x", "y", "value", "action"]),
                       st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5),
                                 st.lists(st.text(max_size=3), max_size=3), st.sampled_from(["click", "nav"]))))
def test_parse_of_arbitrary_json_objects_never_crashes(data: dict[str, Any]) -> None:
    with contextlib.suppress(ProtocolError):
        parse(json.dumps(data))


def test_form_state_survives_control_moving_and_the_new_controller_saying_where_it_is() -> None:
    script = three()
    script.say("cL", "input", target=["#q"], value="typed")
    script.say("cL", "control", action="grant", to=FOLLOWER.id)
    script.say("cF", "nav", url=URL, kind="here")
    assert script.relay.snapshot()["forms"] == {path_key(["#q"]): {"value": "typed"}}
    script.say("cF", "nav", url="http://example.com/b", kind="here")  # elsewhere: a new page's state
    assert script.relay.snapshot()["forms"] == {}
