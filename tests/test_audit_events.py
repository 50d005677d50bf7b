"""Control and privacy as the relay reports them to its shell for the audit trail (pure): every
control request, grant, take, return and decline names its action and who did it; the reports
survive the relay's batched acks (the 16th message of a page carries its ack with them). A
request the target policy refuses is a ``policy`` event naming the rule (a real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_audit_trail import NAVIGATE, export
from world import World
from world.harness import start_cobrowse, stop_cobrowse
from world.sync_client import lead

from sessions.protocol import Inbound
from sessions.relay import ControlRules, Member, Outcome, Relay

LEADER = Member("pL", "leader", "Ann")
VISITOR = Member("pF", "follower", "Vic")


class Pair:
    def __init__(self, rules: ControlRules) -> None:
        self.relay = Relay("sess", LEADER.id, LEADER.id, "http://example.com/", "https://bye.example/", rules=rules)
        self.seq = {"cL": 0, "cF": 0}
        for conn, member in (("cL", LEADER), ("cF", VISITOR)):
            self.relay.open(conn, member, "http://example.com", [LEADER, VISITOR])
            self.relay.receive(conn, Inbound("hello", 0, {"page": conn, "url": "http://example.com/"}), 1.0)

    def say(self, conn: str, kind: str, **fields: Any) -> Outcome:
        self.seq[conn] += 1
        return self.relay.receive(conn, Inbound(kind, self.seq[conn], fields), 2.0)


def noted(outcome: Outcome) -> tuple[str, str, str | None]:
    return outcome.control_action, outcome.control_by, outcome.controller


def test_every_control_step_is_named_with_who_did_it() -> None:
    pair = Pair(ControlRules(consent=True))
    assert noted(pair.say("cF", "control", action="request")) == ("requested", "pF", None)
    assert noted(pair.say("cL", "control", action="grant", to="pF")) == ("granted", "pL", "pF")
    assert noted(pair.say("cL", "control", action="take")) == ("requested", "pL", None)  # the visitor is asked
    assert noted(pair.say("cF", "control", action="decline")) == ("declined", "pF", None)
    assert noted(pair.say("cF", "control", action="grant", to="pL")) == ("returned", "pF", "pL")
    assert noted(pair.say("cL", "control", action="request")) == ("", "", None)  # refused: nothing to note
    no_consent = Pair(ControlRules(consent=False))
    no_consent.say("cL", "control", action="grant", to="pF")
    assert noted(no_consent.say("cL", "control", action="take")) == ("taken", "pL", "pL")


def test_masked_names_survive_the_batched_ack() -> None:
    pair = Pair(ControlRules())
    for _ in range(15):
        pair.say("cF", "pointer", x=1, y=1)
    outcome = pair.say("cF", "privacy", names=["card"])
    assert outcome.masked == ("card",) and [s.message["type"] for s in outcome.sends] == ["ack"]


async def test_a_request_the_target_policy_refuses_is_a_policy_event_naming_the_rule(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path),
                                  deny_domains=("site-b.test",))
    try:
        created = await server.create_session("http://site-a.test/")
        leader = await lead(server, created)
        reply = await server.request("GET", server.proxy_url(created["id"], "site-b.test", "/?token=s3cr3t-tok"),
                                     cookies=leader.cookies, headers=NAVIGATE)
        assert reply.status == 403
    finally:
        await stop_cobrowse(server)
    records = export(capsys, tmp_path, created["id"])
    policy = [r["record"] for r in records if r["record"]["kind"] == "event" and r["record"]["name"] == "policy"]
    assert [(p["detail"]["rule"], p["detail"]["url"]) for p in policy] == [
        ("deny-domain", "http://site-b.test/?token=REDACTED")]
    assert "site-b.test" in policy[0]["detail"]["reason"] and policy[0]["participant"]
