"""The audit trail as a running server writes it: real sessions of the fixture world, real files,
and the ``cobrowse audit`` commands run on them.

- one record per proxied exchange, attributed to the participant who caused it, on the path that
  answered it (the driver's upstream, the follower's from the store), plus the session's events;
- no Cookie, Set-Cookie, Authorization or cobrowse credential value anywhere in the files or the
  decrypted export (searched raw, URL-encoded and base64 at every alignment), while values the
  search must find (the URLs) are found;
- ``cobrowse audit verify`` passes on the untouched trail and names the record after a one-bit
  flip, a deletion, an insertion and a swap in the file; the wrong key fails authentication;
- a clean stop writes everything that was emitted; ``keys rotate`` keeps old trails readable.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from world import World
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse
from world.leaks import leaks
from world.sync_client import join, lead
from world.until import until

from proxy.cli import main
from sessions.audit_chain import Link

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def export(capsys: pytest.CaptureFixture[str], data_dir: Path, sid: str) -> list[dict[str, Any]]:
    out = data_dir / f"{sid}.export.jsonl"
    code, text = run_cli(capsys, "audit", "export", sid, "--format", "jsonl", "-o", str(out),
                         "--data-dir", str(data_dir))
    assert code == 0, text
    return [json.loads(line) for line in out.read_text("utf-8").splitlines()]


async def session_of_the_fixture_world(world: World, data_dir: Path) -> tuple[str, dict[str, str], list[tuple]]:
    """A leader logs in on site A and browses; a follower loads the same pages; the agent ends
    the session; the server stops cleanly. The secrets that crossed it, and the exchanges made as
    (participant, path, method, url)."""
    server: Cobrowse = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=str(data_dir))
    try:
        created = await server.create_session("http://site-a.test/")
        sid = created["id"]
        leader = await lead(server, created)
        follower = await join(server, created, "Vic")
        bearer = "Bearer " + secrets.token_hex(12)
        url = lambda path: server.proxy_url(sid, "site-a.test", path)  # noqa: E731
        made: list[tuple[str, str, str, str]] = []

        async def get(party: Any, path: str, role: str, method: str = "GET", **kw: Any) -> None:
            reply = await server.request(method, url(path), cookies=party.cookies, **kw)
            assert reply.status < 500, (path, reply.status, reply.text[:300])
            made.append((role, "upstream" if role == "leader" else "store", method, f"http://site-a.test{path}"))

        await get(leader, "/", "leader", headers=NAVIGATE)
        await get(leader, "/login", "leader", "POST", data={"user": "ann", "password": "correct horse"},
                  headers={**NAVIGATE, "Sec-Fetch-Site": "same-origin"})
        await get(leader, "/me", "leader", headers={**NAVIGATE, "Authorization": bearer})
        await get(leader, "/cookies", "leader")
        await get(follower, "/", "follower", headers=NAVIGATE)
        await get(follower, "/me", "follower", headers=NAVIGATE)
        reply = await server.api("DELETE", f"/api/v1/sessions/{sid}")
        assert reply.status == 200
        site_cookie = next(h.header("Cookie") for h in world.log if h.path == "/me")
        assert site_cookie and "sid=" in site_cookie
    finally:
        await stop_cobrowse(server)  # a clean stop: the writer drains before it returns
    secrets_ = {
        "site cookie": site_cookie.split("sid=", 1)[1].split(";")[0],
        "authorization": bearer.split(" ", 1)[1],
        "password": "correct horse",
        **{f"leader credential {k}": v for k, v in leader.cookies.items()},
        **{f"follower credential {k}": v for k, v in follower.cookies.items()},
        "leader ticket": created["leader_url"].split("ticket=", 1)[1],
        "invitation": created["follower_url"].split("invitation=", 1)[1],
    }
    return sid, secrets_, made


async def test_fixture_world_session_records_every_exchange_attributed_with_no_credential_stored(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid, secrets_, made = await session_of_the_fixture_world(world, tmp_path)
    rows = export(capsys, tmp_path, sid)
    records = [row["record"] for row in rows]
    events = [r for r in records if r["kind"] == "event"]
    exchanges = [r for r in records if r["kind"] == "exchange"]
    participants = {e["detail"]["role"]: e["participant"] for e in events if e["name"] == "joined"}
    assert set(participants) == {"leader", "follower"}
    assert [(r["participant"], r["path"], r["method"], r["url"]) for r in exchanges] == [
        (participants[role], path, method, url) for role, path, method, url in made]
    assert [e["name"] for e in events if e["name"] != "navigation"] == ["created", "joined", "joined", "ended"]
    assert [e["detail"]["url"] for e in events if e["name"] == "navigation"] == [
        "http://site-a.test/", "http://site-a.test/me"]
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(row["prev"] == before["hash"] for before, row in itertools.pairwise(rows))

    login, me = exchanges[1], exchanges[2]
    assert (login["status"], login["target_status"], login["location"]) == (302, 302, "http://site-a.test/me")
    assert ["Set-Cookie", "REDACTED"] in login["response_headers"]
    assert {"header:cookie", "header:authorization"} <= set(me["redacted"])
    assert me["response_bytes"] > 0 and me["content_type"].startswith("text/html") and me["total_ms"] > 0

    exported = (tmp_path / f"{sid}.export.jsonl").read_bytes()
    stored = (tmp_path / "audit" / f"{sid}.jsonl").read_bytes()
    assert leaks(exported, secrets_) == [] and leaks(stored, secrets_) == []
    # the search finds what is there: a URL of the session, in every form it looks for
    assert leaks(exported, {"control": "http://site-a.test/cookies"}) == ["control"]
    assert leaks(base64.b64encode(b"xy" + secrets_["site cookie"].encode()), secrets_) == ["site cookie"]


async def test_verify_passes_untouched_and_names_the_record_after_each_tampering(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid, _, _ = await session_of_the_fixture_world(world, tmp_path)
    trail = tmp_path / "audit" / f"{sid}.jsonl"
    original = trail.read_bytes().splitlines(keepends=True)
    assert len(original) >= 8
    code, text = run_cli(capsys, "audit", "verify", sid, "--data-dir", str(tmp_path))
    assert code == 0, text
    assert f"{len(original)} records verified, chain intact" in text and "session ended" in text

    def flipped(lines: list[bytes], index: int) -> list[bytes]:
        link = Link.parse(lines[index])
        ct = bytearray(link.ct)
        ct[0] ^= 0x80
        return [*lines[:index], Link(link.seq, link.kid, link.prev, link.nonce, bytes(ct), link.hash).line(),
                *lines[index + 1:]]

    tamperings = {
        "one-bit flip": (flipped(original, 4), "record 5 (line 5)", "changed"),
        "deletion": ([*original[:3], *original[4:]], "record 5 (line 4)", "record 4 was expected"),
        "insertion": ([*original[:6], original[2], *original[6:]], "record 3 (line 7)", "inserted"),
        "swap": ([*original[:2], original[3], original[2], *original[4:]], "record 4 (line 3)", "reordered"),
    }
    for what, (lines, where, problem) in tamperings.items():
        trail.write_bytes(b"".join(lines))
        code, text = run_cli(capsys, "audit", "verify", sid, "--data-dir", str(tmp_path))
        assert code == 1, (what, text)
        assert f"BROKEN at {where}" in text and problem in text, (what, text)
    trail.write_bytes(b"".join(original))
    assert run_cli(capsys, "audit", "verify", sid, "--data-dir", str(tmp_path))[0] == 0


async def test_wrong_key_fails_authentication_and_rotation_keeps_old_trails_readable(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _, _ = await session_of_the_fixture_world(world, tmp_path)
    other_key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("COBROWSE_AUDIT_KEYS", f"k1:{other_key}")
    code, text = run_cli(capsys, "audit", "verify", sid, "--data-dir", str(tmp_path))
    assert code == 1 and "BROKEN at record 1 (line 1)" in text and "fails authentication" in text
    monkeypatch.delenv("COBROWSE_AUDIT_KEYS")

    keys = tmp_path / "audit.keys"
    assert keys.stat().st_mode & 0o777 == 0o600
    code, text = run_cli(capsys, "audit", "keys", "rotate", "--data-dir", str(tmp_path))
    assert code == 0 and "audit key k2 is now current" in text, text
    assert keys.stat().st_mode & 0o777 == 0o600
    world.log.hits.clear()
    newer, _, _ = await session_of_the_fixture_world(world, tmp_path)
    assert {Link.parse(line).kid for line in (tmp_path / "audit" / f"{newer}.jsonl").read_bytes().splitlines()} == {
        "k2"}
    for session in (sid, newer):
        code, text = run_cli(capsys, "audit", "verify", session, "--data-dir", str(tmp_path))
        assert code == 0, text


async def test_cors_preflights_are_recorded_upstream_then_from_the_shared_answer(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    try:
        created = await server.create_session("http://site-a.test/")
        sid = created["id"]
        leader = await lead(server, created)
        page = await server.request("GET", server.proxy_url(sid, "site-a.test", "/"), cookies=leader.cookies)
        assert page.status == 200
        origin = server.proxy_url(sid, "site-a.test", "").rstrip("/")
        for _ in range(2):  # two participants' browsers: the second is answered from the shared answer
            reply = await server.request("OPTIONS", server.proxy_url(sid, "api.test", "/data.json"), cookies={},
                                         headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "Content-Type"})
            assert reply.status == 204, reply.text[:200]
    finally:
        await stop_cobrowse(server)
    preflights = [r["record"] for r in export(capsys, tmp_path, sid) if r["record"].get("method") == "OPTIONS"]
    assert [(p["participant"], p["path"], p["url"], p["status"], p["target_status"]) for p in preflights] == [
        ("", "upstream", "http://api.test/data.json", 204, 204), ("", "store", "http://api.test/data.json", 204, 204)]
    assert ["Access-Control-Request-Method", "POST"] in preflights[0]["request_headers"]


async def test_a_running_server_seals_with_the_rotated_key_without_a_restart(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server: Cobrowse = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    trail = tmp_path / "audit"
    try:
        created = await server.create_session("http://site-a.test/")
        sid = created["id"]
        leader = await lead(server, created)

        async def kids() -> list[str]:
            lines = (trail / f"{sid}.jsonl").read_bytes().splitlines() if (trail / f"{sid}.jsonl").exists() else []
            return [Link.parse(line).kid for line in lines]

        async def page_then(kid: str) -> list[str]:
            reply = await server.request("GET", server.proxy_url(sid, "site-a.test", "/"), cookies=leader.cookies,
                                         headers=NAVIGATE)
            assert reply.status == 200
            seen = await kids()
            return seen if kid in seen else []

        await until(lambda: page_then("k1"), "a record sealed with the first key")
        code, text = run_cli(capsys, "audit", "keys", "rotate", "--data-dir", str(tmp_path))
        assert code == 0, text
        seen = await until(lambda: page_then("k2"), "a record sealed with the rotated key, the server still running")
    finally:
        await stop_cobrowse(server)
    switched = seen.index("k2")
    assert set(seen[:switched]) == {"k1"} and set(seen[switched:]) == {"k2"}, seen
    code, text = run_cli(capsys, "audit", "verify", sid, "--data-dir", str(tmp_path))
    assert code == 0, text
