"""The sync socket against a running server, with raw aiohttp WebSocket clients.

Each test drives ``/__cb/sync`` the way a page's runtime would (hello, seq, last) but by hand,
so it can also do what a page would not: forge input while not in control, send oversize or
flooding frames, come from a foreign origin, drop and resume a socket.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from world.harness import Cobrowse, StartCobrowse
from world.sync_client import (
    TARGET,
    connect,
    expect,
    hello,
    join,
    receive,
    send,
    start_session,
    until_closed,
)
from world.sync_client import ScriptedParty as Party


@pytest.fixture
async def server(start_server: StartCobrowse) -> Cobrowse:
    return await start_server()


async def sync_counters(server: Cobrowse, sid: str) -> dict[str, Any]:
    reply = await server.api("GET", f"/api/v1/sessions/{sid}")
    assert reply.status == 200
    counters: dict[str, Any] = json.loads(reply.body)["sync"]
    return counters


async def test_forged_input_from_a_follower_not_in_control_is_dropped_server_side_and_counted(
        server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await expect(lws, "participants")
    forged = [("click", {"target": ["#buy"], "button": 0}), ("input", {"target": ["#q"], "value": "forged"}),
              ("nav", {"url": "http://example.com/evil", "kind": "load"}), ("key", {"key": "Enter", "phase": "down"}),
              ("submit", {"target": ["form:1"]}), ("storage", {"area": "local", "key": "k", "value": "v"})]
    for kind, fields in forged:
        await send(fws, follower, kind, **fields)
    # A pointer is relayed to everyone: once it arrives, anything sent before it would have too.
    await send(fws, follower, "pointer", x=1, y=2)
    seen = []
    while (message := await receive(lws)) is not None and message["type"] != "pointer":
        seen.append(message["type"])
    assert not set(seen) & {kind for kind, _ in forged}
    counters = await sync_counters(server, created["id"])
    assert counters["dropped"] == {follower.id: len(forged)}
    # The shared state did not move either: a late joiner sees the leader's page, not the forged one.
    late = await join(server, created, "Late")
    latews = await connect(server, created, late)
    state = (await hello(latews, late, "page-late"))["state"]
    assert state["url"] == TARGET and state["forms"] == {} and state["storage"] == {}


async def test_socket_with_a_foreign_origin_is_refused_before_upgrade(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    other, _ = await start_session(server)
    foreign = ["http://evil.example", f"http://h-example-com--{other['id']}.cobrowse.localhost:{server.port}",
               f"http://h-example-com--{created['id']}.cobrowse.localhost:1", ""]
    for origin in foreign:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await connect(server, created, leader, origin=origin)
        assert refused.value.status == 403, origin


async def test_socket_without_a_credential_is_refused(server: Cobrowse) -> None:
    created, _ = await start_session(server)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(server, created, None)
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as forged:
        await connect(server, created, Party({f"cbp_{created['id']}": "v1.forged"}))
    assert forged.value.status == 403


async def test_oversize_message_closes_the_socket_with_1009(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    ws = await connect(server, created, leader)
    await hello(ws, leader, "page-l")
    await send(ws, leader, "input", target=["#q"], value="x" * (70 * 1024))
    await until_closed(ws)
    assert ws.close_code == 1009


async def test_flooding_closes_the_socket_with_1008(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    ws = await connect(server, created, leader)
    await hello(ws, leader, "page-l")
    for i in range(1500):
        if ws.closed:
            break
        await send(ws, leader, "pointer", x=i, y=i)
    await until_closed(ws)
    assert ws.close_code == 1008


async def test_malformed_and_unknown_messages_close_with_1007_and_1008(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    for frame, code in [("{not json", 1007), ('{"type":"nav","seq":1,"url":5,"kind":"load"}', 1007),
                        ('{"type":"teleport","seq":1}', 1008)]:
        ws = await connect(server, created, leader)
        await hello(ws, leader, f"page-{code}-{len(frame)}")
        await ws.send_str(frame)
        await until_closed(ws)
        assert ws.close_code == code, frame


async def test_follower_reconnecting_with_last_misses_no_event_and_gets_none_twice(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await expect(lws, "participants")
    applied: list[str] = []
    last = 0

    async def apply_inputs(ws: aiohttp.ClientWebSocketResponse, count: int) -> None:
        nonlocal last
        while len(applied) < count:
            message = await receive(ws)
            assert message is not None
            if "n" in message and message["n"] <= last:
                continue
            last = message.get("n", last)
            if message["type"] == "input":
                applied.append(message["value"])

    for i in range(1, 6):
        await send(lws, leader, "input", target=["#q"], value=f"v{i}")
    await apply_inputs(fws, 5)
    await fws.close()  # the follower's socket dies mid-session
    for i in range(6, 11):
        await send(lws, leader, "input", target=["#q"], value=f"v{i}")
    fws = await connect(server, created, follower)
    welcome = await hello(fws, follower, "page-f", last=last)
    assert welcome["state"] is None  # the gap is in the buffer: a replay follows, not a snapshot
    await apply_inputs(fws, 10)
    await send(lws, leader, "input", target=["#q"], value="v11")
    await apply_inputs(fws, 11)
    assert applied == [f"v{i}" for i in range(1, 12)]


async def test_resent_message_after_reconnect_is_relayed_once(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(lws, leader, "input", target=["#q"], value="once")
    await expect(fws, "input", value="once")
    await lws.close()  # the ack may not have come: the client resends after reconnecting
    lws = await connect(server, created, leader)
    welcome = await hello(lws, leader, "page-l", last=0)
    assert welcome["seq"] == 1
    await lws.send_str(json.dumps({"type": "input", "seq": 1, "target": ["#q"], "value": "once"}))
    await expect(lws, "ack", seq=1)
    await send(lws, leader, "input", target=["#q"], value="next")
    values = []
    while (message := await receive(fws)) is not None:
        if message["type"] == "input":
            values.append(message["value"])
            if message["value"] == "next":
                break
    assert values == ["next"]
    assert (await sync_counters(server, created["id"]))["duplicates"] == 1


async def test_late_joiner_gets_welcome_with_the_leaders_url_form_values_and_scroll(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    await send(lws, leader, "nav", url="http://example.com/form?step=2", kind="load")
    await send(lws, leader, "input", target=["#main", "input:1"], value="Ada", sel=[3, 3])
    await send(lws, leader, "input", target=["#main", "input:2"], checked=True)
    await send(lws, leader, "scroll", target=None, x=0, y=640, anchor={"path": ["#main", "p:4"], "dy": 12})
    await send(lws, leader, "scroll", target=["#box"], x=0, y=90)
    await expect(lws, "ack")
    follower = await join(server, created, "Late")
    fws = await connect(server, created, follower)
    welcome = await hello(fws, follower, "page-f")
    state = welcome["state"]
    assert state["url"] == "http://example.com/form?step=2"
    assert state["forms"] == {'["#main","input:1"]': {"value": "Ada", "sel": [3, 3]},
                              '["#main","input:2"]': {"checked": True}}
    assert state["scroll"]["null"] == {"x": 0, "y": 640, "anchor": {"path": ["#main", "p:4"], "dy": 12}}
    assert state["scroll"]['["#box"]']["y"] == 90
    assert welcome["controller"] == leader.id
    assert [p["name"] for p in welcome["participants"]] == ["Ann", "Late"]


async def test_control_request_grant_then_take_with_consent_moves_control_and_persists_it(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(fws, follower, "control", action="request")
    asked = await expect(lws, "control")
    assert asked["requested_by"] == follower.id and asked["controller"] == leader.id
    await send(lws, leader, "control", action="grant", to=follower.id)
    assert (await expect(fws, "control", controller=follower.id))["from"] == leader.id
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert session["controller"] == follower.id
    # Now the follower drives: its input reaches the leader, the leader's own is dropped.
    await send(fws, follower, "input", target=["#q"], value="typed by the visitor")
    assert (await expect(lws, "input"))["value"] == "typed by the visitor"
    await send(lws, leader, "input", target=["#q"], value="leader while not in control")
    # Taking control from the visitor who drives asks the visitor first (consent, on by default).
    await send(lws, leader, "control", action="take")
    asked = await expect(fws, "control")
    assert asked["controller"] == follower.id and asked["requested_by"] == leader.id
    await send(fws, follower, "control", action="grant", to=leader.id)
    assert (await expect(lws, "control", controller=leader.id))["from"] == follower.id
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert session["controller"] == leader.id
    assert session["sync"]["dropped"] == {leader.id: 1}


async def test_follower_cannot_grant_control_or_end_the_session(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(fws, follower, "control", action="grant", to=follower.id)
    await send(fws, follower, "control", action="take")
    await send(fws, follower, "end")
    await expect(fws, "ack")
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert session["status"] == "live" and session["controller"] == leader.id
    assert session["sync"]["dropped"] == {follower.id: 3}


async def test_delete_sends_ended_to_every_socket_and_closes_them_with_4000(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    followers = [await join(server, created, f"V{i}") for i in range(2)]
    sockets = [lws]
    for i, follower in enumerate(followers):
        ws = await connect(server, created, follower)
        await hello(ws, follower, f"page-f{i}")
        sockets.append(ws)
    reply = await server.api("DELETE", f"/api/v1/sessions/{created['id']}")
    assert reply.status == 200
    for ws in sockets:
        rest = await until_closed(ws)
        assert rest and rest[-1] == {"type": "ended", "redirect": ""}
        assert ws.close_code == 4000
    with pytest.raises(aiohttp.WSServerHandshakeError) as gone:
        await connect(server, created, leader)
    assert gone.value.status == 410


async def test_leader_end_message_ends_the_session_for_everyone(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(lws, leader, "end")
    for ws in (lws, fws):
        rest = await until_closed(ws)
        assert rest[-1]["type"] == "ended" and ws.close_code == 4000
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert session["status"] == "ended"
    page = await server.request("GET", server.proxy_url(created["id"], "example.com", "/"), cookies=follower.cookies)
    assert page.status == 410


async def test_digest_mismatch_twice_in_a_row_sends_drift_to_the_follower_only(server: Cobrowse) -> None:
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    follower = await join(server, created)
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(lws, leader, "digest", url=TARGET, hash="aaa")
    await expect(lws, "ack")  # idle ack: the leader's digest is in
    await send(fws, follower, "digest", url=TARGET, hash="aaa")
    await send(fws, follower, "digest", url=TARGET, hash="bbb")
    await send(fws, follower, "digest", url=TARGET, hash="bbb")
    drift = await expect(fws, "drift")
    assert drift == {"type": "drift", "url": TARGET}
    assert (await sync_counters(server, created["id"]))["drift"] == 1
