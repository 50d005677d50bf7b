"""Audit exports of a real session of the fixture world, through the API and the CLI.

A leader and a follower load pages of site A through a running server (the leader's requests go
upstream, the follower's are served from the store); the agent ends the session. Then:

- the API (``GET /api/v1/sessions/{id}/audit?format=``) and the CLI (``cobrowse audit export``)
  give the same bytes for each format, and each API export is noted in the trail as an
  ``exported`` event; the API refuses a missing key (401), an unknown format (400, naming the
  formats), an unknown session (404) and a tampered trail (409 naming the record);
- the mitmproxy export reads back with mitmproxy's own ``FlowReader`` and every flow matches
  its record: method, URL, status, participant, path, link, the events around it, redactions;
  ``mitmdump -r`` lists every exchange with its status;
- the HAR export validates against HAR 1.2 (``tests/har12.schema.json``), matches the trail
  entry by entry, and Chromium serves a page of the session from it (``route_from_har``) with
  no network: every request the page makes is answered from the HAR, and one the session never
  made is not answered at all.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mitmproxy.io import FlowReader
from playwright.async_api import Browser, Request
from playwright.async_api import Error as PlaywrightError
from world import World
from world.harness import Cobrowse, StartCobrowse
from world.sync_client import join, lead
from world.until import until

from proxy.audit_export import FORMATS
from proxy.cli import main
from sessions.audit_chain import Link

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
HAR_SCHEMA = json.loads((Path(__file__).parent / "har12.schema.json").read_text("utf-8"))


def cli_export(data_dir: Path, sid: str, fmt: str) -> bytes:
    out = data_dir / f"export.{fmt}"
    code = main(["audit", "export", sid, "--format", fmt, "-o", str(out), "--data-dir", str(data_dir)])
    assert code == 0, f"cobrowse audit export --format {fmt} exited {code}"
    return out.read_bytes()


def rows_of(jsonl: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in jsonl.splitlines()]


async def trail_until(data_dir: Path, sid: str, last: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The trail's rows once its last record is the one the test waits for (the writer is off
    the hot path: records land shortly after the answers)."""
    async def ended() -> list[dict[str, Any]]:
        if not (data_dir / "audit" / f"{sid}.jsonl").exists():  # made with the session's first record
            return []
        rows = rows_of(cli_export(data_dir, sid, "jsonl"))
        return rows if rows and last(rows[-1]["record"]) else []

    return await until(ended, "the trail ends with the record waited for")


def is_event(name: str, **detail: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["kind"] == "event" and r["name"] == name and detail.items() <= r["detail"].items()


async def recorded_session(world: World, server: Cobrowse, data_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    """A session of the fixture world, ended, its trail complete: (session id, the trail's rows)."""
    created = await server.create_session("http://site-a.test/")
    sid = created["id"]
    leader = await lead(server, created)
    follower = await join(server, created, "Vic")
    asked = [
        (leader, "GET", "/", NAVIGATE, None),
        (leader, "POST", "/login", {**NAVIGATE, "Sec-Fetch-Site": "same-origin"},
         {"user": "ann", "password": "correct horse"}),
        (leader, "GET", "/me", NAVIGATE, None),
        (leader, "GET", "/cookies?from=leader&ticket=not-for-the-trail", {}, None),
        (follower, "GET", "/", NAVIGATE, None),
        (follower, "GET", "/me", NAVIGATE, None),
    ]
    for party, method, path, headers, form in asked:
        reply = await server.request(method, server.proxy_url(sid, "site-a.test", path), cookies=party.cookies,
                                     headers=headers, data=form)
        assert reply.status < 500, (path, reply.status, reply.text[:300])
    assert (await server.api("DELETE", f"/api/v1/sessions/{sid}")).status == 200
    return sid, await trail_until(data_dir, sid, is_event("ended"))


async def test_api_and_cli_give_the_same_bytes_in_every_format_and_the_api_notes_each_export(
        world: World, start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    sid, rows = await recorded_session(world, server, tmp_path)
    assert [r["record"]["kind"] for r in rows].count("exchange") == 6
    for fmt, kind in FORMATS.items():
        from_cli = cli_export(tmp_path, sid, fmt)
        reply = await server.api("GET", f"/api/v1/sessions/{sid}/audit?format={fmt}")
        assert reply.status == 200, reply.text[:300]
        assert reply.header("Content-Type") == kind.media_type
        assert f'filename="cobrowse-{sid}.{kind.suffix}"' in (reply.header("Content-Disposition") or "")
        assert not reply.truncated and len(from_cli) > 500
        assert reply.body == from_cli, fmt
        # the export is noted after the records it exported, so the next format's export holds it
        after = await trail_until(tmp_path, sid, is_event("exported", format=fmt))
        assert after[:-1] == rows_of(from_cli) if fmt == "jsonl" else len(after) == len(rows) + 1
        assert after[-1]["record"]["detail"]["records"] == str(len(rows))
        rows = after


async def test_api_refuses_a_missing_key_an_unknown_format_and_an_unknown_session(
        world: World, start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    created = await server.create_session("http://site-a.test/")
    sid = created["id"]
    await trail_until(tmp_path, sid, is_event("created"))
    assert (await server.api("GET", f"/api/v1/sessions/{sid}/audit?format=har")).status == 200
    assert (await server.api("GET", f"/api/v1/sessions/{sid}/audit", key=None)).status == 401
    assert (await server.api("GET", f"/api/v1/sessions/{sid}/audit", key="wrong")).status == 401
    reply = await server.api("GET", f"/api/v1/sessions/{sid}/audit?format=pcap")
    assert reply.status == 400
    assert all(name in reply.text for name in ("'pcap'", "jsonl", "har", "mitmproxy")), reply.text
    other = sid[:-4] + ("aaaa" if not sid.endswith("aaaa") else "bbbb")
    for unknown in (other, "not-a-session"):
        reply = await server.api("GET", f"/api/v1/sessions/{unknown}/audit?format=jsonl")
        assert reply.status == 404, (unknown, reply.status, reply.text)


async def test_mitmproxy_export_reads_back_with_flowreader_and_every_flow_matches_its_record(
        world: World, start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    sid, rows = await recorded_session(world, server, tmp_path)
    reply = await server.api("GET", f"/api/v1/sessions/{sid}/audit?format=mitmproxy")
    assert reply.status == 200 and not reply.truncated
    flows = list(FlowReader(io.BytesIO(reply.body)).stream())

    exchanges = [row for row in rows if row["record"]["kind"] == "exchange"]
    events = [row for row in rows if row["record"]["kind"] == "event"]
    joined = {e["record"]["detail"]["role"]: e["record"]["participant"] for e in events
              if e["record"]["name"] == "joined"}
    assert len(flows) == len(exchanges) == 6
    for f, row in zip(flows, exchanges, strict=True):
        record, meta = row["record"], f.metadata["cobrowse"]
        assert (f.request.method, f.request.url, f.response.status_code if f.response else 0) == (
            record["method"], record["url"], record["status"])
        assert (meta["participant"], meta["path"], meta["seq"], meta["hash"], meta["session"]) == (
            record["participant"], record["path"], row["seq"], row["hash"], sid)
        assert f.request.timestamp_start == record["time"]
        assert [[k, v] for k, v in f.request.headers.items(multi=True)] == record["request_headers"]
        assert meta["redacted"] == record["redacted"]
    # who did what: the leader's requests went upstream, the follower's came from the store
    assert [(f.metadata["cobrowse"]["participant"], f.metadata["cobrowse"]["path"]) for f in flows] == [
        *[(joined["leader"], "upstream")] * 4, *[(joined["follower"], "store")] * 2]
    # every session event is on a flow: before the exchange it precedes, or after the last one
    on_flows = [e["seq"] for f in flows for key in ("events", "events_after")
                for e in f.metadata["cobrowse"].get(key, [])]
    assert on_flows == [e["seq"] for e in events]
    login, cookies = flows[1], flows[3]
    assert login.response is not None and login.response.headers["Set-Cookie"] == "REDACTED"
    assert cookies.request.query["ticket"] == "REDACTED" and cookies.request.query["from"] == "leader"
    assert "ended" in flows[-1].comment


async def test_har_export_is_valid_har_1_2_matching_the_trail_and_chromium_serves_the_session_from_it(
        world: World, start_server: StartCobrowse, tmp_path: Path, browser: Browser) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    sid, rows = await recorded_session(world, server, tmp_path)
    har_path = tmp_path / "session.har"
    har_path.write_bytes(cli_export(tmp_path, sid, "har"))
    har = json.loads(har_path.read_bytes())
    jsonschema.validate(har, HAR_SCHEMA)

    log = har["log"]
    exchanges = [row for row in rows if row["record"]["kind"] == "exchange"]
    assert [(e["request"]["method"], e["request"]["url"], e["response"]["status"], e["_participant"], e["_path"],
             e["_seq"]) for e in log["entries"]] == [
        (r["record"]["method"], r["record"]["url"], r["record"]["status"], r["record"]["participant"],
         r["record"]["path"], r["seq"]) for r in exchanges]
    navigations = [row["record"]["detail"]["url"] for row in rows if row["record"].get("name") == "navigation"]
    assert [p["title"] for p in log["pages"]] == navigations == ["http://site-a.test/", "http://site-a.test/me"]
    assert [e.get("pageref") for e in log["entries"]] == ["page_1", "page_1", "page_2", "page_2", "page_2",
                                                          "page_2"]
    assert [e["name"] for e in log["_events"]] == [
        row["record"]["name"] for row in rows if row["record"]["kind"] == "event"]
    me = log["entries"][2]
    assert {"name": "", "value": "REDACTED", "comment": "redacted before storage"} in me["request"]["cookies"]
    assert {"name": "ticket", "value": "REDACTED"} in log["entries"][3]["request"]["queryString"]

    context = await browser.new_context()
    try:
        await context.set_offline(True)  # no network at all: only the HAR can answer
        await context.route_from_har(har_path, not_found="abort")
        asked: list[Request] = []
        failed: list[str] = []

        def on_request(request: Request) -> None:  # Playwright tags its handlers: plain functions only
            asked.append(request)

        def on_failed(request: Request) -> None:
            failed.append(request.url)

        context.on("request", on_request)
        context.on("requestfailed", on_failed)
        page = await context.new_page()
        response = await page.goto("http://site-a.test/me")
        assert response is not None
        recorded = log["entries"][2]["response"]
        assert response.status == recorded["status"]
        assert response.headers["content-type"] == recorded["content"]["mimeType"]
        assert failed == [] and asked
        in_har = {e["request"]["url"] for e in log["entries"]}
        assert all(request.url in in_har for request in asked), [r.url for r in asked]
        # the network is cut off: what the session never asked for is not answered at all
        with pytest.raises(PlaywrightError):
            await page.goto("http://site-a.test/never-asked")
        assert failed == ["http://site-a.test/never-asked"]
    finally:
        await context.close()


async def test_mitmdump_reads_the_exported_flow_file(
        world: World, start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    sid, rows = await recorded_session(world, server, tmp_path)
    flows = tmp_path / "session.mitm"
    flows.write_bytes(cli_export(tmp_path, sid, "mitmproxy"))
    mitmdump = Path(sys.executable).parent / "mitmdump"
    process = await asyncio.create_subprocess_exec(
        str(mitmdump), "-n", "-r", str(flows), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    shown = [line.strip() for line in out.decode().splitlines()]
    requests = [line.split(": ", 1)[1] for line in shown if line.startswith(":0: ")]
    answers = [line.removeprefix("<< ").split(" ")[0] for line in shown if line.startswith("<< ")]
    exchanges = [row["record"] for row in rows if row["record"]["kind"] == "exchange"]
    assert requests == [f"{r['method']} {r['url']}" for r in exchanges]
    assert answers == [str(r["status"]) for r in exchanges]


async def test_api_answers_409_naming_the_broken_record_of_a_tampered_trail(
        world: World, start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    sid, _ = await recorded_session(world, server, tmp_path)
    assert (await server.api("GET", f"/api/v1/sessions/{sid}/audit?format=har")).status == 200
    await trail_until(tmp_path, sid, is_event("exported", format="har"))
    trail = tmp_path / "audit" / f"{sid}.jsonl"
    lines = trail.read_bytes().splitlines(keepends=True)
    link = Link.parse(lines[1])
    flipped = Link(link.seq, link.kid, link.prev, link.nonce, bytes([link.ct[0] ^ 1, *link.ct[1:]]), link.hash)
    trail.write_bytes(b"".join([lines[0], flipped.line(), *lines[2:]]))
    for fmt in FORMATS:
        reply = await server.api("GET", f"/api/v1/sessions/{sid}/audit?format={fmt}")
        assert reply.status == 409, (fmt, reply.status)
        assert "record 2 (line 2)" in reply.text and "changed" in reply.text, reply.text


def test_export_help_names_every_format_and_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "export", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert all(f"{f.name}: {f.help}" in " ".join(shown.split()) for f in FORMATS.values()), shown
    assert "/api/v1/sessions/{id}/audit?format=" in shown
