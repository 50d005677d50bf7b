"""Bodies in the audit trail (``--audit-bodies``): decoded, cut at the configured size with bounded
memory, and redacted before storage (``sessions.audit_bodies``, ``proxy.audit_tee``).

- forms (urlencoded, multipart) and JSON lose the values of password-like fields, configured
  fields and JSON paths, masked-field names and matches of configured regexes; each record names
  what it took out, never the value, while other values stay (the search sees what it looks for);
- a truncated JSON body is still redacted (textually), a gzip body is kept decoded, and the tee
  never keeps more than the limit;
- the ``privacy`` sync message (masked-field names) is bounded by the protocol, handed by the
  relay to its shell and relayed to no one, and kept per session by the hub, capped;
- a real session of the fixture world with bodies on: the login's password is in no stored or
  exported byte, its control field is, and a page over the limit is kept cut and marked so.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from pathlib import Path

import pytest
from test_audit_trail import NAVIGATE, export
from world import World
from world.harness import start_cobrowse, stop_cobrowse
from world.leaks import leaks
from world.sync_client import lead

from proxy.audit_tee import BodyTee, kept
from proxy.cli import main
from proxy.masked_names import MAX_MASKED_PER_SESSION
from proxy.relay_rooms import RelayRooms
from proxy.synchub import SyncHub
from sessions.audit_bodies import BodyRules, parse_json_path
from sessions.credentials import WIRE_PATTERN
from sessions.protocol import Inbound, ProtocolError, parse
from sessions.relay import Member, Relay
from sessions.shared import MemoryShared

RULES = BodyRules.configured(fields=["memberId"], json_paths=["$.user.dob", "$.cards[*].number"],
                             regexes=[r"\b\d{3}-\d{2}-\d{4}\b"])


def test_form_fields_password_like_configured_and_masked_are_redacted_by_name() -> None:
    found: set[str] = set()
    body = b"user=ann&Pass_Word=hunter2xyz&member-id=M123456&pin2=9&note=visible+text&card=4111"
    out = RULES.redact(body, "application/x-www-form-urlencoded; charset=utf-8", {"card"}, found)
    assert out == b"user=ann&Pass_Word=REDACTED&member-id=REDACTED&pin2=9&note=visible+text&card=REDACTED"
    assert found == {"field:password", "field:memberid", "field:card"}


def test_multipart_parts_are_redacted_by_name() -> None:
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"otp\"\r\n\r\n123456\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhello there\r\n--XyZ--\r\n")
    found: set[str] = set()
    out = RULES.redact(body, 'multipart/form-data; boundary="XyZ"', (), found)
    assert b"123456" not in out and b"hello there" in out and b"name=\"otp\"\r\n\r\nREDACTED\r\n" in out
    assert found == {"field:otp"}


def test_json_keys_at_any_depth_paths_and_regexes() -> None:
    data = {"user": {"name": "ann", "ssn": 123456789, "dob": "1990-01-01", "auth": {"accessToken": "tok-abcdef"}},
            "cards": [{"number": "4111111111111111", "label": "mine"}], "memo": "call 078-05-1120 later"}
    found: set[str] = set()
    out = json.loads(RULES.redact(json.dumps(data).encode(), "application/vnd.api+json", (), found))
    assert out == {"user": {"name": "ann", "ssn": "REDACTED", "dob": "REDACTED", "auth": {"accessToken": "REDACTED"}},
                   "cards": [{"number": "REDACTED", "label": "mine"}], "memo": "call REDACTED later"}
    assert found == {"field:ssn", "json:$.user.dob", "json:$.cards[*].number", "field:accesstoken", "regex:1"}


def test_truncated_json_still_loses_its_secret_values() -> None:
    body = json.dumps({"user": "ann", "password": "hunter2xyz", "cvv": 123, "bio": "x" * 50}).encode()[:-20]
    found: set[str] = set()
    out = RULES.redact(body, "application/json", (), found)
    assert b"hunter2xyz" not in out and b"123" not in out and b'"user": "ann"' in out
    assert found == {"field:password", "field:cvv"}


def test_cobrowse_credentials_are_redacted_in_any_body() -> None:
    credential = "v1.abcdefgh.s3ss10n.leader.1700000000." + "A" * 32
    assert WIRE_PATTERN.fullmatch(credential)
    found: set[str] = set()
    out = RULES.redact(f"<p>{credential}</p>".encode(), "text/html", (), found)
    assert out == b"<p>REDACTED</p>" and found == {"credential"}


def test_json_paths_are_parsed_or_refused() -> None:
    assert parse_json_path("$.cards[*].number") == ("cards", "*", "number")
    with pytest.raises(ValueError):
        parse_json_path("user.ssn")


def test_tee_keeps_a_gzip_stream_decoded_up_to_the_limit_and_says_it_was_cut() -> None:
    plain = os.urandom(3000).hex().encode()  # 6000 bytes that do not compress away
    encoded = gzip.compress(plain)
    tee = BodyTee(1000, "gzip")
    for start in range(0, len(encoded), 100):
        tee.feed(encoded[start:start + 100])
    assert tee.value() == plain[:1000] and tee.truncated
    assert kept(encoded, 10_000, "gzip") == (plain, False)
    assert kept(b"\x1f\x8b broken", 100, "gzip")[1]  # undecodable: marked, never raised


async def test_fixture_world_login_body_kept_redacted_and_cut(world: World, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    server = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path),
                                  audit_bodies=200)
    try:
        created = await server.create_session("http://site-a.test/")
        sid = created["id"]
        leader = await lead(server, created)
        url = server.proxy_url(sid, "site-a.test", "/login")
        reply = await server.request("POST", url, cookies=leader.cookies,
                                     data={"user": "ann", "password": "correct horse", "note": "control-note-77"},
                                     headers={**NAVIGATE, "Sec-Fetch-Site": "same-origin"})
        assert reply.status < 500
        reply = await server.request("GET", server.proxy_url(sid, "site-a.test", "/"), cookies=leader.cookies,
                                     headers=NAVIGATE)
        assert reply.status == 200
    finally:
        await stop_cobrowse(server)
    records = [row["record"] for row in export(capsys, tmp_path, sid)]
    login = next(r for r in records if r["kind"] == "exchange" and r["method"] == "POST")
    page = next(r for r in records if r["kind"] == "exchange" and r["url"] == "http://site-a.test/")
    sent = base64.b64decode(login["request_body"])
    assert b"note=control-note-77" in sent and b"password=REDACTED" in sent
    assert "field:password" in login["redacted"] and not login["request_truncated"]
    shown = base64.b64decode(page["response_body"])
    assert len(shown) == 200 and page["response_truncated"] and shown.lstrip().lower().startswith(b"<!doctype")
    stored = (tmp_path / "audit" / f"{sid}.jsonl").read_bytes()
    exported = (tmp_path / f"{sid}.export.jsonl").read_bytes()
    assert leaks(stored + exported, {"password": "correct horse"}) == []
    assert leaks(exported, {"control": "control-note-77"}) == ["control"]
    har_file = tmp_path / "trail.har"
    assert main(["audit", "export", sid, "--format", "har", "-o", str(har_file), "--data-dir", str(tmp_path)]) == 0
    entries = json.loads(har_file.read_text("utf-8"))["log"]["entries"]
    assert [e.get("_truncated") for e in entries if e["request"]["url"] == "http://site-a.test/"] == [["response"]]


def test_privacy_message_is_bounded_by_the_protocol() -> None:
    message = parse(json.dumps({"type": "privacy", "seq": 1, "names": ["password", "card"]}))
    assert message.fields == {"names": ["password", "card"]}
    for names in (["x"] * 65, [""], ["n" * 129], "password", [3]):
        with pytest.raises(ProtocolError):
            parse(json.dumps({"type": "privacy", "seq": 1, "names": names}))


def test_the_relay_hands_masked_names_to_the_shell_and_sends_them_to_no_one() -> None:
    relay = Relay("sess", "pL", "pL", "http://example.com/", "https://bye.example/")
    for conn, member in (("cL", Member("pL", "leader", "Ann")), ("cF", Member("pF", "follower", "Vic"))):
        relay.open(conn, member, "http://example.com", [member])
        relay.receive(conn, Inbound("hello", 0, {"page": conn, "url": "http://example.com/"}), 1.0)
    outcome = relay.receive("cF", Inbound("privacy", 1, {"names": ["card"]}), 2.0)
    assert outcome.masked == ("card",)
    assert all(send.message["type"] == "ack" for send in outcome.sends)


async def test_the_hub_keeps_new_masked_names_per_session_up_to_a_cap() -> None:
    hub = SyncHub(RelayRooms(MemoryShared()))
    assert await hub.note_masked("s1", frozenset({"card", "pin"})) == {"card", "pin"}
    assert await hub.note_masked("s1", frozenset({"card"})) == frozenset()
    assert hub.masked_names("s1") == {"card", "pin"} and hub.masked_names("s2") == frozenset()
    await hub.note_masked("s1", frozenset(f"f{i}" for i in range(MAX_MASKED_PER_SESSION * 2)))
    assert len(hub.masked_names("s1")) == MAX_MASKED_PER_SESSION
    await hub.end("s1")
    assert hub.masked_names("s1") == frozenset()
