"""The relay core's two doors for the agent outside the sockets (the REST API): ``give`` hands
control by the leader's own rules, ``remove`` takes a participant out. Scripts of events in and
messages out, as in tests/test_relay.py."""

from __future__ import annotations

from test_relay import FOLLOWER, LEADER, OTHER, kinds, three, to

from sessions.protocol import CLOSE_REMOVED
from sessions.relay import ControlRules


def test_give_grants_control_to_a_follower_and_every_page_hears_it() -> None:
    script = three()
    out = script.relay.give(FOLLOWER, script.now)
    assert out.controller == FOLLOWER.id and out.control_action == "granted" and out.control_by == LEADER.id
    for conn in ("cL", "cF", "cG"):
        assert [m["controller"] for m in to(out, conn) if m["type"] == "control"] == [FOLLOWER.id]


def test_give_to_the_leader_takes_control_back() -> None:
    script = three()
    script.relay.give(FOLLOWER, script.now)
    out = script.relay.give(LEADER, script.now)
    assert out.controller == LEADER.id and out.control_action == "taken"


def test_give_to_the_leader_with_consent_asks_the_driving_follower_first() -> None:
    script = three(ControlRules(consent=True))
    script.relay.give(FOLLOWER, script.now)
    out = script.relay.give(LEADER, script.now)
    assert out.controller is None and out.control_action == "requested"
    assert [m.get("requested_by") for m in to(out, "cF") if m["type"] == "control"] == [LEADER.id]
    assert script.relay.controller == FOLLOWER.id


def test_give_to_a_follower_in_a_view_only_session_changes_nothing() -> None:
    script = three(ControlRules(view_only=True))
    out = script.relay.give(FOLLOWER, script.now)
    assert out.controller is None and not out.sends and script.relay.controller == LEADER.id


def test_remove_closes_the_participants_sockets_with_the_removed_code_and_tells_the_others() -> None:
    script = three()
    out = script.relay.remove(OTHER.id, script.now)
    assert [(c.conn, c.code) for c in out.closes] == [("cG", CLOSE_REMOVED)]
    listed = [m["participants"] for m in to(out, "cL") if m["type"] == "participants"]
    assert listed and OTHER.id not in {p["id"] for p in listed[-1]}
    assert "participants" in kinds(out, "cF") and not to(out, "cG")


def test_removing_the_driver_gives_control_back_to_the_leader() -> None:
    script = three()
    script.relay.give(OTHER, script.now)
    out = script.relay.remove(OTHER.id, script.now)
    assert out.controller == LEADER.id and script.relay.controller == LEADER.id
    assert [m["controller"] for m in to(out, "cF") if m["type"] == "control"] == [LEADER.id]


def test_the_leader_cannot_be_removed() -> None:
    script = three()
    out = script.relay.remove(LEADER.id, script.now)
    assert not out.closes and not out.sends
