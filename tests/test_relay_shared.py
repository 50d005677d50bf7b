"""The sync relay shared by two processes on one Redis (``proxy.relay_rooms``): a leader's socket on
one and a follower's on the other co-browse exactly as on one process.

Two servers are built (``proxy.app.build_app``) on stores of one Redis namespace, with the same
secret and domain and different ports, as two ``cobrowse serve`` processes behind a load balancer
would be; scripted sync clients (``world.sync_client``) play the browsers.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from world.harness import Cobrowse, StartCobrowse
from world.sync_client import (
    ScriptedParty,
    connect,
    expect,
    hello,
    join,
    receive,
    send,
    start_session,
    until_closed,
)

from proxy.keys import SHARED, STORE, SYNC
from proxy.redis_store import RedisStore
from proxy.relay_rooms import RelayRooms
from sessions.credentials import Signer
from sessions.relay import Member, Outcome, Relay
from sessions.service import SessionService
from sessions.shared import MemoryShared, SharedUnavailable
from sessions.store import MemoryStore

SECRET = b"r" * 32
URL = "http://example.com/start"


@dataclass(frozen=True, slots=True)
class Two:
    a: Cobrowse
    b: Cobrowse


@pytest.fixture
async def two(start_server: StartCobrowse, redis_url: str) -> Two:
    namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
    a = await start_server(store=RedisStore.from_url(redis_url, namespace, forget_on_close=True), secret_key=SECRET)
    b = await start_server(store=RedisStore.from_url(redis_url, namespace), secret_key=SECRET)
    return Two(a, b)


async def _pair(two: Two) -> tuple[dict[str, Any], ScriptedParty, ScriptedParty, Any, Any, dict[str, Any]]:
    """A session made on ``a``: its leader's socket on ``a``, a follower's on ``b``, both welcomed
    (the follower's welcome returned), and the leader told that the follower joined."""
    created, leader = await start_session(two.a)
    follower = await join(two.b, created)
    lws = await connect(two.a, created, leader)
    await hello(lws, leader, "page-l")
    fws = await connect(two.b, created, follower)
    welcome = await hello(fws, follower, "page-f")
    await expect(lws, "participants")
    return created, leader, follower, lws, fws, welcome


async def _numbered(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` numbered messages (pointer and acks skipped)."""
    seen: list[dict[str, Any]] = []
    while len(seen) < count:
        message = await receive(ws)
        assert message is not None, f"socket closed ({ws.close_code}) after {seen}"
        if "n" in message:
            seen.append(message)
    return seen


async def test_input_from_a_leader_on_one_process_reaches_a_follower_on_the_other_in_order(two: Two) -> None:
    _, leader, _, lws, fws, welcome = await _pair(two)
    for i in range(30):
        await send(lws, leader, "input", target=["#q"], value=f"v{i}")
    got = await _numbered(fws, 30)
    assert [m["n"] for m in got] == list(range(welcome["n"] + 1, welcome["n"] + 31))
    assert [m["value"] for m in got] == [f"v{i}" for i in range(30)]
    assert {m["from"] for m in got} == {leader.id}


async def test_control_goes_through_the_shared_relay_and_is_persisted_in_the_shared_store(two: Two) -> None:
    created, leader, follower, lws, fws, _ = await _pair(two)
    await send(fws, follower, "control", action="request")
    asked = await expect(lws, "control")
    assert asked["requested_by"] == follower.id
    await send(lws, leader, "control", action="grant", to=follower.id)
    assert (await expect(fws, "control", controller=follower.id))["from"] == leader.id
    await send(lws, leader, "input", target=["#q"], value="not in control")  # dropped by the relay
    await send(lws, leader, "pointer", x=1, y=2)  # relayed from anyone: the fence
    after = await receive(fws)
    while after is not None and after["type"] == "ack":
        after = await receive(fws)
    assert after is not None and after["type"] == "pointer"
    # The leader's socket handles its messages in turn: the grant was persisted before the pointer.
    session = await two.b.runner.app[STORE].get(created["id"])
    assert session is not None and session.controller == follower.id
    await send(fws, follower, "scroll", x=0, y=99)
    assert (await expect(lws, "scroll"))["y"] == 99


async def test_a_late_joiner_on_the_other_process_catches_up_from_the_shared_state(two: Two) -> None:
    created, leader = await start_session(two.a)
    lws = await connect(two.a, created, leader)
    await hello(lws, leader, "page-l")
    await send(lws, leader, "nav", url="http://example.com/next", kind="load")
    await send(lws, leader, "input", target=["#q"], value="typed")
    await send(lws, leader, "control", action="take")  # acked at once: the fence that both were applied
    await expect(lws, "ack", seq=leader.seq)
    follower = await join(two.b, created)
    fws = await connect(two.b, created, follower)
    welcome = await hello(fws, follower, "page-f")
    assert welcome["state"]["url"] == "http://example.com/next"
    assert welcome["state"]["forms"] == {'["#q"]': {"value": "typed"}}
    assert welcome["controller"] == leader.id and welcome["n"] >= 1


async def test_a_follower_reconnecting_to_the_other_process_gets_exactly_the_missed_messages(two: Two) -> None:
    created, leader, follower, lws, fws, _ = await _pair(two)
    await send(lws, leader, "input", target=["#q"], value="seen")
    [seen] = await _numbered(fws, 1)
    await fws.close()
    await expect(lws, "participants")  # the follower's socket is gone from the relay
    for i in range(3):
        await send(lws, leader, "input", target=["#q"], value=f"missed-{i}")
    await expect(lws, "ack", seq=leader.seq)  # the relay took all three (acked when the socket idles)
    again = await connect(two.a, created, follower)
    welcome = await hello(again, follower, "page-f", last=seen["n"])
    assert welcome["state"] is None
    replayed = await _numbered(again, 3)
    assert [m.get("value") for m in replayed if m["type"] == "input"] == ["missed-0", "missed-1", "missed-2"]
    assert [m["n"] for m in replayed] == list(range(seen["n"] + 2, seen["n"] + 5))  # after the participants
    await send(lws, leader, "input", target=["#q"], value="after")
    [after] = await _numbered(again, 1)
    assert after["value"] == "after" and after["n"] == welcome["n"] + 1


async def test_connections_of_a_process_whose_heartbeat_is_gone_are_dropped_and_its_pages_reconnect(
        two: Two) -> None:
    created, _, follower, lws, fws, _ = await _pair(two)
    rooms = two.b.runner.app[SYNC].rooms
    await rooms.stop()  # b stops beating and its heartbeat key is gone, as if it had died
    listed = await expect(lws, "participants")  # a's idle check found b dead: the list says so
    assert {p["id"]: p["connected"] for p in listed["participants"]}[follower.id] is False
    relay = await two.a.runner.app[SYNC].rooms.read(created["id"])
    assert relay is not None and all(conn.startswith(two.a.runner.app[SYNC].rooms.process + ".")
                                     for conn in relay.conn_ids())
    assert await two.a.runner.app[SHARED].get(f"relay-process:{rooms.process}") is None
    # b is alive after all (it only stalled): its socket, no longer in the relay, is closed with 1013
    # so that its page reconnects rather than hear nothing.
    await until_closed(fws)
    assert fws.close_code == 1013
    await rooms.start()  # b beats again
    again = await connect(two.b, created, follower)
    await hello(again, follower, "page-f")
    back = await expect(lws, "participants")
    assert {p["id"]: p["connected"] for p in back["participants"]}[follower.id] is True


class Unreachable:
    """The app's ``Shared`` (a declared seam) as it behaves while its server is down: once ``down``
    is set, every relay transaction raises ``SharedUnavailable``."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.down = inner, False

    async def transact(self, key: str, change: Any) -> Any:
        if self.down:
            raise SharedUnavailable("the shared state cannot be reached (test)")
        return await self.inner.transact(key, change)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_sync_sockets_close_with_1013_when_the_shared_state_is_unreachable(start_server: StartCobrowse) -> None:
    server = await start_server()
    rooms = server.runner.app[SYNC].rooms
    shared = rooms.shared = Unreachable(rooms.shared)
    created, leader = await start_session(server)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    shared.down = True
    await send(lws, leader, "scroll", x=0, y=1)
    assert await until_closed(lws) == [] and lws.close_code == 1013
    refused = await connect_refused(server, created, leader)
    assert refused == 503
    shared.down = False
    again = await connect(server, created, leader)
    assert (await hello(again, leader, "page-l", last=1))["you"]["id"] == leader.id


async def connect_refused(server: Cobrowse, created: dict[str, Any], party: ScriptedParty) -> int:
    """The status a sync handshake is refused with."""
    try:
        await connect(server, created, party)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    raise AssertionError("the handshake was accepted")


async def test_a_relay_kept_parsed_by_one_process_is_rebuilt_once_another_process_wrote() -> None:
    session = (await SessionService(MemoryStore(), Signer(b"k" * 32)).create(URL, "a1", "Ann", time.time())).session
    shared = MemoryShared()
    one, other = RelayRooms(shared, process="one"), RelayRooms(shared, process="other")
    leader = Member(session.leader_id, "leader", "Ann")

    def announce(url: str) -> Callable[[Relay], Outcome]:
        return lambda relay: relay.announce(url, time.time())
    await one.apply(session.id, announce(URL + "?1"), expires_at=session.expires_at, fresh=session)
    await other.apply(session.id, announce(URL + "?2"), expires_at=session.expires_at)
    _, relay = await one.apply(session.id, lambda r: r.open("one.1", leader, URL), expires_at=session.expires_at)
    assert relay is not None and relay.current_url == URL + "?2" and relay.n == 2
    assert (await other.read(session.id)) is not None
    assert [json.loads(item)[0] for item in await shared.items(f"relay-buffer:{session.id}")] == [1, 2]


class Lossy:
    """The app's ``Shared`` (a declared seam) losing the publications of the transactions made
    while ``lose`` is set, as a broken pub/sub connection does."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.lose = inner, False
        self.lost: list[str] = []
        self.lost_one = asyncio.Event()

    async def transact(self, key: str, change: Any) -> Any:
        def without_publish(old: str | None) -> Any:
            write, result = change(old)
            if write is None or not self.lose or not write.publish:
                return write, result
            self.lost.extend(text for _, text in write.publish)
            self.lost_one.set()
            return replace(write, publish=()), result
        return await self.inner.transact(key, without_publish)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_process_that_missed_publications_has_its_pages_reconnect_and_replay(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    rooms = server.runner.app[SYNC].rooms
    shared = rooms.shared = Lossy(rooms.shared)
    created, leader = await start_session(server)
    follower = await join(server, created)
    lws = await connect(server, created, leader)
    await hello(lws, leader, "page-l")
    fws = await connect(server, created, follower)
    await hello(fws, follower, "page-f")
    await send(lws, leader, "input", target=["#q"], value="heard")
    [heard] = await _numbered(fws, 1)
    shared.lose = True
    await send(lws, leader, "input", target=["#q"], value="lost")
    while not any('"value":"lost"' in text for text in shared.lost):
        shared.lost_one.clear()
        await shared.lost_one.wait()  # until the relay took it (and its publication was lost)
    shared.lose = False
    await send(lws, leader, "input", target=["#q"], value="after")
    assert [m for m in await until_closed(fws) if m.get("type") == "input"] == []
    assert fws.close_code == 1013
    again = await connect(server, created, follower)
    welcome = await hello(again, follower, "page-f", last=heard["n"])
    assert welcome["state"] is None
    replayed = [m["value"] for m in await _numbered(again, 2)]
    assert replayed == ["lost", "after"]


async def test_masked_field_names_reported_on_one_process_are_known_to_the_other(two: Two) -> None:
    created, _, _, _, fws, _ = await _pair(two)
    await two.b.runner.app[SYNC].note_masked(created["id"], frozenset({"card"}))
    hub_a = two.a.runner.app[SYNC]
    heard = asyncio.Event()
    await hub_a.rooms.shared.subscribe("masked", lambda _: heard.set())
    await two.b.runner.app[SYNC].note_masked(created["id"], frozenset({"pin"}))
    await heard.wait()  # a heard the second note: it heard the first before it
    assert hub_a.masked_names(created["id"]) == {"card", "pin"}
    await two.b.runner.app[SYNC].end(created["id"])
    await until_closed(fws)  # the end reached the sockets: its forget was published before
    heard.clear()
    await two.b.runner.app[SYNC].note_masked("other", frozenset({"x"}))
    await heard.wait()
    assert hub_a.masked_names(created["id"]) == frozenset()
