"""The participants API on a real server, with scripted participants (raw HTTP and sync sockets):
listing with status, removal (credential refused with a page saying so, socket closed with 4003,
the leader refused), approval of waiting visitors, control given through the relay, named
visitor links, and the audit events these leave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from world.harness import AGENT, Cobrowse, StartCobrowse, cookies_from
from world.sync_client import TARGET, ScriptedParty, connect, expect, hello, join, post_join, start_session
from world.until import until

from proxy import presence
from proxy.keys import AUDIT
from sessions.protocol import CLOSE_REMOVED


async def create(server: Cobrowse, **options: Any) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": TARGET, "agent": AGENT, "options": options})
    assert reply.status == 201, reply.text
    created: dict[str, Any] = json.loads(reply.body)
    return created


async def participants(server: Cobrowse, sid: str) -> dict[str, dict[str, Any]]:
    reply = await server.api("GET", f"/api/v1/sessions/{sid}/participants")
    assert reply.status == 200, reply.text
    return {p["name"]: p for p in json.loads(reply.body)["participants"]}


async def asset(server: Cobrowse, created: dict[str, Any], party: ScriptedParty) -> Any:
    """A proxied request with the party's pass (the runtime asset: no upstream needed)."""
    return await server.request("GET", server.proxy_url(created["id"], "example.com", "/__cb/runtime.js"),
                                cookies=party.cookies)


async def test_participants_are_listed_with_role_name_status_and_time(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    await join(server, created, "Vic")
    listed = await participants(server, created["id"])
    assert {(n, p["role"], p["status"]) for n, p in listed.items()} == {("Ann", "leader", "active"),
                                                                       ("Vic", "follower", "active")}
    assert all(p["joined_at"].endswith("Z") and p["id"] for p in listed.values())
    assert (await server.api("GET", "/api/v1/sessions/nosuchsession1/participants")).status == 404
    assert (await server.api("GET", f"/api/v1/sessions/{created['id']}/participants", key="wrong")).status == 401


async def test_a_visitor_whose_last_page_closed_is_left_until_it_is_back(
        start_server: StartCobrowse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presence, "LEAVE_GRACE", 0.2)
    server = await start_server()
    created, _ = await start_session(server)
    visitor = await join(server, created, "Vic")
    page = await connect(server, created, visitor)
    await hello(page, visitor, "pv")
    await page.close()

    async def status_is(wanted: str) -> bool:
        return (await participants(server, created["id"]))["Vic"]["status"] == wanted

    await until(lambda: status_is("left"), "the visitor shows as left")
    back = await connect(server, created, visitor)
    await hello(back, visitor, "pv2")
    assert await status_is("active")
    await back.close()


async def test_a_removed_visitor_is_told_on_its_socket_and_on_its_next_page_and_stays_out(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    created, leader = await start_session(server)
    visitor = await join(server, created, "Vic")
    leader_ws = await connect(server, created, leader)
    await hello(leader_ws, leader, "pl")
    visitor_ws = await connect(server, created, visitor)
    await hello(visitor_ws, visitor, "pv")
    assert (await asset(server, created, visitor)).status == 200
    reply = await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{visitor.id}")
    assert reply.status == 200 and json.loads(reply.body)["status"] == "removed"
    await visitor_ws.receive()
    assert visitor_ws.close_code == CLOSE_REMOVED
    # The leader hears that the visitor is gone (after the roster that announced it).
    while visitor.id in {p["id"] for p in (await expect(leader_ws, "participants"))["participants"]}:
        pass
    page = await asset(server, created, visitor)
    assert page.status == 403 and "You were removed from this session" in page.text
    assert (await participants(server, created["id"]))["Vic"]["status"] == "removed"
    # Removing again changes nothing; the browser cannot come back through the invitation on its old pass.
    again = await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{visitor.id}")
    assert again.status == 200
    await leader_ws.close()


async def test_removing_the_leader_is_refused_with_a_message(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    leader_id = next(p["id"] for p in created["participants"] if p["role"] == "leader")
    reply = await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{leader_id}")
    assert reply.status == 409 and (reply.header("Content-Type") or "").startswith("application/problem+json")
    assert "end the session instead" in json.loads(reply.body)["detail"]
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/pnobody")).status == 404


async def test_control_given_through_the_api_reaches_every_page_and_the_session(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, leader = await start_session(server)
    visitor = await join(server, created, "Vic")
    leader_ws = await connect(server, created, leader)
    await hello(leader_ws, leader, "pl")
    visitor_ws = await connect(server, created, visitor)
    await hello(visitor_ws, visitor, "pv")
    path = f"/api/v1/sessions/{created['id']}/control"
    reply = await server.api("POST", path, {"participant": visitor.id})
    assert reply.status == 200 and json.loads(reply.body) == {"controller": visitor.id, "action": "granted"}
    for ws in (leader_ws, visitor_ws):
        await expect(ws, "control", controller=visitor.id)
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert session["controller"] == visitor.id
    # To the leader: the agent takes it; the session's default consent rule asks the driving visitor first.
    reply = await server.api("POST", path, {"participant": leader.id})
    assert reply.status == 200 and json.loads(reply.body)["action"] == "requested"
    await expect(visitor_ws, "control", requested_by=leader.id)
    assert (await server.api("POST", path, {})).status == 400
    unconnected = await join(server, created, "Gus")
    gus = (await participants(server, created["id"]))["Gus"]["id"]
    del unconnected
    refused = await server.api("POST", path, {"participant": gus})
    assert refused.status == 409 and "no page open" in json.loads(refused.body)["detail"]
    assert (await server.api("POST", path, {"participant": "pnobody"})).status == 404
    await leader_ws.close()
    await visitor_ws.close()


async def test_a_view_only_session_refuses_control_to_a_visitor_with_409(start_server: StartCobrowse) -> None:
    server = await start_server()
    created = await create(server, view_only=True)
    visitor = await join(server, created, "Vic")
    del visitor
    vic = (await participants(server, created["id"]))["Vic"]
    reply = await server.api("POST", f"/api/v1/sessions/{created['id']}/control", {"participant": vic["id"]})
    assert reply.status == 409 and "view-only" in json.loads(reply.body)["detail"]


async def test_a_waiting_visitor_has_no_pass_until_approved_then_lands_in_the_session(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    created = await create(server, require_approval=True)
    reply = await post_join(server, created, "Vic")
    assert reply.status == 303 and reply.header("Location") == f"/join/{created['id']}/wait"
    visitor = ScriptedParty(cookies_from(reply.headers))
    status_url = f"{server.control}/join/{created['id']}/status"
    assert json.loads((await server.request("GET", status_url, cookies=visitor.cookies)).body) == {
        "state": "waiting"}
    wait = await server.request("GET", f"{server.control}/join/{created['id']}/wait", cookies=visitor.cookies)
    assert wait.status == 200 and "Waiting for Ann to let you in" in wait.text
    assert "script-src 'sha256-" in (wait.header("Content-Security-Policy") or "")
    assert (await asset(server, created, visitor)).status == 403
    vic = (await participants(server, created["id"]))["Vic"]
    assert vic["status"] == "waiting"
    # Control cannot go to a visitor who is not in yet.
    give = await server.api("POST", f"/api/v1/sessions/{created['id']}/control", {"participant": vic["id"]})
    assert give.status == 409
    approved = await server.api("POST", f"/api/v1/sessions/{created['id']}/participants/{vic['id']}/approve")
    assert approved.status == 200 and json.loads(approved.body)["status"] == "active"
    state = json.loads((await server.request("GET", status_url, cookies=visitor.cookies)).body)
    assert state["state"] == "admitted" and state["url"].startswith("http://h-example-com--")
    assert (await asset(server, created, visitor)).status == 200
    # The waiting page itself now sends the visitor on.
    wait = await server.request("GET", f"{server.control}/join/{created['id']}/wait", cookies=visitor.cookies)
    assert wait.status == 303 and wait.header("Location") == state["url"]


async def test_a_declined_visitor_is_told_so_on_the_waiting_page(start_server: StartCobrowse) -> None:
    server = await start_server()
    created = await create(server, require_approval=True)
    visitor = ScriptedParty(cookies_from((await post_join(server, created, "Vic")).headers))
    vic = (await participants(server, created["id"]))["Vic"]
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{vic['id']}")).status == 200
    status = await server.request("GET", f"{server.control}/join/{created['id']}/status", cookies=visitor.cookies)
    assert json.loads(status.body) == {"state": "declined"}
    wait = await server.request("GET", f"{server.control}/join/{created['id']}/wait", cookies=visitor.cookies)
    assert wait.status == 403 and "did not let you into this co-browsing session" in wait.text
    again = await server.api("POST", f"/api/v1/sessions/{created['id']}/participants/{vic['id']}/approve")
    assert again.status == 409


async def test_a_named_visitor_link_fixes_the_name_and_works_once(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    reply = await server.api("POST", f"/api/v1/sessions/{created['id']}/visitor-links", {"name": "Vera Lynn"})
    assert reply.status == 201, reply.text
    link = json.loads(reply.body)
    assert link["name"] == "Vera Lynn" and link["expires_at"].endswith("Z")
    page = await server.request("GET", link["url"], cookies={})
    assert page.status == 200
    field = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "name"})
    assert field["value"] == "Vera Lynn" and field.has_attr("readonly")
    secret = parse_qs(urlsplit(link["url"]).query)["link"][0]
    form = {"link": secret, "name": "Somebody Else"}
    joined = await server.request("POST", f"{server.control}/join/{created['id']}", data=form, cookies={})
    assert joined.status == 303
    assert set(await participants(server, created["id"])) == {"Ann", "Vera Lynn"}
    used = await server.request("POST", f"{server.control}/join/{created['id']}", data=form, cookies={})
    assert used.status == 403 and "already been used" in used.text
    assert (await server.api("POST", f"/api/v1/sessions/{created['id']}/visitor-links", {})).status == 400


async def test_removal_and_approval_are_in_the_audit_trail(tmp_path: Path, start_server: StartCobrowse) -> None:
    server = await start_server(data_dir=str(tmp_path))
    created = await create(server, require_approval=True)
    await post_join(server, created, "Vic")
    await post_join(server, created, "Gus")
    listed = await participants(server, created["id"])
    sid = created["id"]
    vic, gus = (f"/api/v1/sessions/{sid}/participants/{listed[name]['id']}" for name in ("Vic", "Gus"))
    assert (await server.api("POST", f"{vic}/approve")).status == 200
    assert (await server.api("DELETE", gus)).status == 200
    assert (await server.api("DELETE", vic)).status == 200
    sink = server.runner.app[AUDIT]

    async def all_written() -> bool:
        return sink.counters()["written"] >= 7

    await until(all_written, "the audit writer wrote the session's events")
    export = await server.api("GET", f"/api/v1/sessions/{sid}/audit?format=jsonl")
    events = [r["record"] for r in map(json.loads, export.text.splitlines()) if r["record"]["kind"] == "event"]
    names = [(e["name"], e["participant"], e["detail"].get("reason", "")) for e in events
             if e["name"] in ("waiting", "approved", "joined", "removed")]
    vic, gus = listed["Vic"]["id"], listed["Gus"]["id"]
    assert names == [("waiting", vic, ""), ("waiting", gus, ""), ("approved", vic, ""), ("joined", vic, ""),
                     ("removed", gus, "declined"), ("removed", vic, "removed")], names


async def test_a_removed_browser_cannot_rejoin_through_the_invitation_but_can_through_a_new_link(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    visitor = await join(server, created, "Vic")
    vic = (await participants(server, created["id"]))["Vic"]["id"]
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{vic}")).status == 200
    again = await post_join(server, created, "Vic", cookies=visitor.cookies)
    assert again.status == 403 and "You were removed from this session" in again.text
    assert set(await participants(server, created["id"])) == {"Ann", "Vic"}
    link = json.loads((await server.api("POST", f"/api/v1/sessions/{created['id']}/visitor-links",
                                        {"name": "Vic"})).body)
    form = {"link": parse_qs(urlsplit(link["url"]).query)["link"][0], "name": ""}
    back = await server.request("POST", f"{server.control}/join/{created['id']}", data=form, cookies=visitor.cookies)
    assert back.status == 303
    reply = await server.api("GET", f"/api/v1/sessions/{created['id']}/participants")
    statuses = sorted(p["status"] for p in json.loads(reply.body)["participants"])
    assert statuses == ["active", "active", "removed"]
