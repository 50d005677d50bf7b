"""Fetch once: only the driver's requests reach the target; followers are served from the store.

A small target with hit counters sits on loopback behind a real cobrowse server; the leader
and a follower are raw HTTP clients with their own participant cookies. Hit counts at the
target prove what went upstream and how often.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from world.harness import Cobrowse, StartCobrowse, cookies_from
from world.targets import serve_app

from proxy.keys import RESPONSES, SERVICE, STORE
from proxy.purge import drop_ended_responses
from sessions.ids import new_participant_id
from sessions.matching import key_for
from sessions.model import Participant, Session
from sessions.responses import Head, ResponseLimits, ResponseStore
from sessions.shared import MemoryShared

TARGET = "target.test"
BIG = bytes(range(256)) * (4 * 1024 * 4)  # 4 MiB
_TAG = re.compile(rb'<script src="[^"]*/__cb/runtime\.js[^>]*></script>')


@dataclass(slots=True)
class Target:
    hits: Counter[str] = field(default_factory=Counter)
    ws_received: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/page", self.page)
        app.router.add_get("/data", self.data)
        app.router.add_get("/slow", self.slow)
        app.router.add_post("/submit", self.submit)
        app.router.add_get("/big", self.big)
        app.router.add_get("/img/{name}", self.image)
        app.router.add_get("/ws", self.ws)
        app.router.add_get("/broken", self.broken)
        return app

    def count(self, request: web.Request) -> int:
        self.hits[f"{request.method} {request.path}"] += 1
        return self.hits[f"{request.method} {request.path}"]

    async def page(self, request: web.Request) -> web.Response:
        n = self.count(request)
        return web.Response(text=f"<!doctype html><html><head><title>p</title></head><body><p>hit {n}</p>"
                                 f'<a href="http://{TARGET}/data">abs</a></body></html>',
                            content_type="text/html", headers={"Set-Cookie": f"seen={n}; Path=/"})

    async def data(self, request: web.Request) -> web.Response:
        n = self.count(request)
        return web.json_response({"hit": n, "query": request.query_string})

    async def slow(self, request: web.Request) -> web.Response:
        n = self.count(request)
        await self.release.wait()
        return web.Response(text=f"slow {n}", content_type="text/plain")

    async def submit(self, request: web.Request) -> web.Response:
        n = self.count(request)
        form = await request.post()
        return web.Response(text=f"<p>posted {form.get('name')} as hit {n}</p>", content_type="text/html")

    async def image(self, request: web.Request) -> web.Response:
        n = self.count(request)
        return web.Response(body=b"\x89PNG" + str(n).encode(), content_type="image/png",
                            headers={"Cache-Control": "no-cache"})

    async def big(self, request: web.Request) -> web.StreamResponse:
        self.count(request)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(BIG)
        await response.prepare(request)
        for start in range(0, len(BIG), 256 * 1024):
            await response.write(BIG[start:start + 256 * 1024])
            await asyncio.sleep(0.01)
        return response

    async def broken(self, request: web.Request) -> web.Response:
        self.count(request)
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        self.count(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("welcome")
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.ws_received.append(message.data)
                await ws.send_str(f"echo {message.data}")
        return ws


@dataclass(slots=True)
class Party:
    """A running cobrowse with one session, its leader's and one follower's cookies."""

    server: Cobrowse
    target: Target
    sid: str
    leader: dict[str, str]
    follower: dict[str, str]
    follower_id: str

    def url(self, path: str) -> str:
        return self.server.proxy_url(self.sid, TARGET, path)

    async def get(self, who: dict[str, str], path: str, **kwargs: object) -> tuple[int, bytes]:
        reply = await self.server.request("GET", self.url(path), cookies=who, **kwargs)  # type: ignore[arg-type]
        return reply.status, reply.body

    async def set_controller(self, participant_id: str) -> None:
        def move(session: Session) -> None:
            session.controller = participant_id

        await self.server.runner.app[STORE].update(self.sid, move)


async def add_follower(server: Cobrowse, sid: str) -> tuple[str, dict[str, str]]:
    """A follower participant and its cookie, made through the store and a ticket (no join page yet)."""
    app = server.runner.app
    pid = new_participant_id()

    def add(session: Session) -> None:
        session.participants[pid] = Participant(pid, "follower", "Fay", time.time())

    await app[STORE].update(sid, add)
    ticket = await app[SERVICE].issue_ticket(sid, pid, server.proxy_url(sid, TARGET, "/page"), time.time())
    reply = await server.request("GET", f"{server.control}/enter/{sid}?ticket={ticket}", cookies={})
    assert reply.status == 302, reply.text
    return pid, cookies_from(reply.headers)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    made = Target()
    runner, made.port = await serve_app(made.app())
    try:
        yield made
    finally:
        made.release.set()
        await runner.cleanup()


async def _party(start_server: StartCobrowse, target: Target, **config: object) -> Party:
    server = await start_server(resolve_overrides={f"{TARGET}:80": ("127.0.0.1", target.port)},
                                follower_wait=config.pop("follower_wait", 3.0), **config)
    created = await server.create_session(f"http://{TARGET}/page")
    sid = created["id"]
    await server.redeem(created["leader_url"])
    leader = dict(server.cookies)
    follower_id, follower = await add_follower(server, sid)
    return Party(server, target, sid, leader, follower, follower_id)


@pytest.fixture
async def party(start_server: StartCobrowse, target: Target) -> Party:
    return await _party(start_server, target)


def _untagged(body: bytes) -> bytes:
    return _TAG.sub(b"", body)


async def test_follower_get_after_leader_is_served_from_store_and_target_hit_once(party: Party) -> None:
    status, leader_body = await party.get(party.leader, "/page")
    assert status == 200
    status, follower_body = await party.get(party.follower, "/page")
    assert status == 200
    assert party.target.hits["GET /page"] == 1
    assert b"hit 1" in follower_body
    assert _untagged(follower_body) == _untagged(leader_body)
    assert leader_body != follower_body  # the runtime tag names each participant
    assert party.follower_id.encode() in follower_body


async def test_follower_copy_is_rewritten_and_sets_no_cookie(party: Party) -> None:
    await party.get(party.leader, "/page")
    reply = await party.server.request("GET", party.url("/page"), cookies=party.follower)
    assert f"--{party.sid}.".encode() in reply.body  # the absolute link points into the proxy space
    assert b"http://target.test/data" not in reply.body
    assert "Set-Cookie" not in reply.headers


async def test_follower_first_waits_then_is_served_when_leaders_response_arrives(party: Party) -> None:
    follower = asyncio.ensure_future(party.get(party.follower, "/slow"))
    await asyncio.sleep(0.2)
    assert not follower.done()
    leader = asyncio.ensure_future(party.get(party.leader, "/slow"))
    await asyncio.sleep(0.2)
    assert not follower.done()  # the leader's answer has not come in yet
    party.target.release.set()
    assert await leader == (200, b"slow 1")
    assert await follower == (200, b"slow 1")
    assert party.target.hits["GET /slow"] == 1


async def test_follower_alone_gets_504_after_the_wait(start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=0.3)
    status, body = await party.get(party.follower, "/data")
    assert status == 504
    assert b"has not loaded this yet" in body
    assert target.hits["GET /data"] == 0


async def test_follower_post_never_reaches_target_and_gets_drivers_post_response(party: Party) -> None:
    leader = await party.server.request("POST", party.url("/submit"), data={"name": "Ann"}, cookies=party.leader)
    assert leader.status == 200 and b"posted Ann as hit 1" in leader.body
    follower = await party.server.request("POST", party.url("/submit"), data={"name": "Ann"},
                                          cookies=party.follower)
    assert follower.status == 200 and b"posted Ann as hit 1" in follower.body
    assert party.target.hits["POST /submit"] == 1


async def test_follower_post_with_other_body_falls_back_to_latest_for_method_and_url(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=0.3)
    await party.server.request("POST", party.url("/submit"), data={"name": "Ann"}, cookies=party.leader)
    follower = await party.server.request("POST", party.url("/submit"), data={"name": "Mallory"},
                                          cookies=party.follower)
    assert follower.status == 200 and b"posted Ann" in follower.body
    assert target.hits["POST /submit"] == 1


async def test_cache_buster_random_and_request_id_parameters_match(party: Party) -> None:
    leader_path = "/data?_=1712345678901&r=0.8237461928&rid=3f2b9c1e-7d4a-4e8b-9c2d-1a2b3c4d5e6f&page=2"
    follower_path = "/data?_=1712345679999&r=0.1111111111&rid=aa2b9c1e-7d4a-4e8b-9c2d-1a2b3c4d5e6f&page=2"
    status, leader_body = await party.get(party.leader, leader_path)
    assert status == 200
    status, follower_body = await party.get(party.follower, follower_path)
    assert status == 200
    assert follower_body == leader_body
    assert party.target.hits["GET /data"] == 1


async def test_different_stable_parameter_does_not_match(start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=0.3)
    await party.get(party.leader, "/data?page=2")
    status, _ = await party.get(party.follower, "/data?page=3")
    assert status == 504
    assert target.hits["GET /data"] == 1


async def test_kth_follower_request_gets_kth_driver_response_when_in_step(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=5.0)
    await party.get(party.leader, "/page")
    await party.get(party.follower, "/page")  # the follower is following from here on
    followers = [asyncio.ensure_future(party.get(party.follower, "/img/b.png")) for _ in range(3)]
    await asyncio.sleep(0.1)
    leader_bodies = [(await party.get(party.leader, "/img/b.png"))[1] for _ in range(3)]
    follower_bodies = sorted([body for _, body in await asyncio.gather(*followers)])
    assert follower_bodies == leader_bodies == [b"\x89PNG1", b"\x89PNG2", b"\x89PNG3"]
    assert target.hits["GET /img/b.png"] == 3


async def test_follower_reload_after_using_up_gets_latest_after_the_wait(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=0.3)
    await party.get(party.leader, "/img/c.png")
    assert (await party.get(party.follower, "/img/c.png"))[1] == b"\x89PNG1"
    assert (await party.get(party.follower, "/img/c.png")) == (200, b"\x89PNG1")
    assert target.hits["GET /img/c.png"] == 1


async def test_large_streamed_body_is_shared_while_arriving(party: Party) -> None:
    leader = asyncio.ensure_future(party.get(party.leader, "/big", max_body=len(BIG) + 1))
    await asyncio.sleep(0.05)
    follower = asyncio.ensure_future(party.get(party.follower, "/big", max_body=len(BIG) + 1))
    (status_l, body_l), (status_f, body_f) = await asyncio.gather(leader, follower)
    assert status_l == status_f == 200
    assert body_l == body_f == BIG
    assert party.target.hits["GET /big"] == 1


async def test_streamed_body_over_share_cap_is_502_for_follower(start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, share_max_response=1024 * 1024)
    status, body = await party.get(party.leader, "/big", max_body=len(BIG) + 1)
    assert status == 200 and body == BIG
    status, body = await party.get(party.follower, "/big", max_body=len(BIG) + 1)
    assert status == 502 and b"too large to share" in body
    assert target.hits["GET /big"] == 1


async def test_control_moved_makes_follower_the_driver_and_leader_is_matched(party: Party) -> None:
    await party.get(party.leader, "/page")
    await party.get(party.follower, "/page")
    await party.set_controller(party.follower_id)
    status, follower_body = await party.get(party.follower, "/data?x=1")
    assert status == 200
    status, leader_body = await party.get(party.leader, "/data?x=1")
    assert status == 200 and leader_body == follower_body
    assert party.target.hits["GET /data"] == 1
    # Entries recorded before the move stay matchable: a participant joining now gets the page.
    _, newcomer = await add_follower(party.server, party.sid)
    status, body = await party.get(newcomer, "/page")
    assert status == 200 and b"hit 1" in body
    assert party.target.hits["GET /page"] == 1


async def test_websocket_follower_gets_copy_and_its_sends_never_reach_target(party: Party) -> None:
    client = party.server.client
    base = f"http://127.0.0.1:{party.server.port}/ws"
    host = party.url("/ws").split("/")[2]

    def headers(who: dict[str, str]) -> dict[str, str]:
        # A page of the session opens it (sockets from foreign origins are refused before dialling).
        return {"Host": host, "Origin": f"http://{host}", "Cookie": "; ".join(f"{k}={v}" for k, v in who.items())}

    async with client.ws_connect(base, headers=headers(party.leader)) as leader:
        assert (await leader.receive_str(timeout=5)) == "welcome"
        async with client.ws_connect(base, headers=headers(party.follower)) as follower:
            assert (await follower.receive_str(timeout=5)) == "welcome"  # the backlog first
            await follower.send_str("forged")
            await leader.send_str("hi")
            assert (await leader.receive_str(timeout=5)) == "echo hi"
            assert (await follower.receive_str(timeout=5)) == "echo hi"
    await asyncio.sleep(0.1)
    assert party.target.ws_received == ["hi"]
    assert party.target.hits["GET /ws"] == 1


async def test_websocket_follower_first_waits_for_the_drivers_socket(party: Party) -> None:
    client = party.server.client
    base = f"http://127.0.0.1:{party.server.port}/ws"
    host = party.url("/ws").split("/")[2]

    def headers(who: dict[str, str]) -> dict[str, str]:
        # A page of the session opens it (sockets from foreign origins are refused before dialling).
        return {"Host": host, "Origin": f"http://{host}", "Cookie": "; ".join(f"{k}={v}" for k, v in who.items())}

    follower_ws = asyncio.ensure_future(client.ws_connect(base, headers=headers(party.follower)))
    await asyncio.sleep(0.2)
    async with client.ws_connect(base, headers=headers(party.leader)) as leader:
        follower = await follower_ws
        try:
            assert (await follower.receive_str(timeout=5)) == "welcome"
            await leader.send_str("one")
            assert (await follower.receive_str(timeout=5)) == "echo one"
        finally:
            await follower.close()
    assert party.target.hits["GET /ws"] == 1


async def test_driver_upstream_failure_is_shared_with_follower_without_a_second_try(party: Party) -> None:
    status, _ = await party.get(party.leader, "/broken")
    assert status == 502
    driver_hits = party.target.hits["GET /broken"]  # the client may retry a dropped keep-alive once
    status, body = await party.get(party.follower, "/broken")
    assert status == 502 and b"got an error instead of the site" in body
    assert party.target.hits["GET /broken"] == driver_hits


async def test_ended_session_drops_its_response_store(party: Party) -> None:
    await party.get(party.leader, "/page")
    app = party.server.runner.app
    assert party.sid in app[RESPONSES].session_ids()
    reply = await party.server.api("DELETE", f"/api/v1/sessions/{party.sid}")
    assert reply.status in (200, 204)
    await drop_ended_responses(app)
    assert party.sid not in app[RESPONSES].session_ids()


# -- the response store on its own (its contract on both backends: tests/test_responses_shared.py) --------

def _head(content_type: str = "image/png", **extra: str) -> Head:
    return Head(200, "OK", (("Content-Type", content_type), *extra.items()), "http://a.test/")


def _store(limits: ResponseLimits | None = None) -> ResponseStore:
    return ResponseStore(MemoryShared(), "s", limits)


async def test_store_evicts_oldest_bodies_over_budget_but_never_the_latest_document() -> None:
    store = _store(ResponseLimits(max_response=100, budget=250))
    document = await store.begin("d", key_for("GET", "http://a.test/"), _head("text/html"), raw=False, document=True)
    await store.append(document, b"d" * 100)
    await store.finish(document)
    older = await store.begin("d", key_for("GET", "http://a.test/1"), _head(), raw=True)
    await store.append(older, b"1" * 100)
    await store.finish(older)
    newer = await store.begin("d", key_for("GET", "http://a.test/2"), _head(), raw=True)
    await store.append(newer, b"2" * 100)
    await store.finish(newer)
    assert await store.held_bytes() <= 250
    for entry in (older, document, newer):
        await store.refresh(entry)
    assert older.evicted and not older.servable
    assert document.servable and newer.servable


async def test_store_marks_body_over_cap_too_large_and_holds_none_of_it() -> None:
    store = _store(ResponseLimits(max_response=10, budget=100))
    entry = await store.begin("d", key_for("GET", "http://a.test/big"), _head(), raw=True)
    await store.append(entry, b"x" * 8)
    await store.append(entry, b"x" * 8)
    await store.finish(entry)
    assert entry.too_large and not entry.servable
    assert await store.held_bytes() == 0 and await store.body_of(entry) == b""


async def test_store_serves_used_up_cacheable_response_at_once() -> None:
    store = _store()
    key = key_for("GET", "http://a.test/logo.png")
    assert await store.match("f", key, 0) is None  # f follows from here on
    entry = await store.begin("d", key, _head(**{"Cache-Control": "max-age=3600"}), raw=True)
    await store.finish(entry)
    first = await store.match("f", key, 0)
    assert first is not None and first.id == entry.id
    # Used up, but the driver's browser would reuse its copy: no wait (a huge wait would hang here).
    again = await asyncio.wait_for(store.match("f", key, 3600), 5)
    assert again is not None and again.id == entry.id


async def test_store_follower_reads_raw_body_while_driver_copy_arrives() -> None:
    store = _store()
    key = key_for("GET", "http://a.test/file")
    entry = await store.begin("d", key, _head(), raw=True)
    await store.append(entry, b"one ")
    matched = await store.match("f", key, 1)
    assert matched is not None and matched.id == entry.id
    got: list[bytes] = []
    first = asyncio.Event()

    async def read() -> None:
        async for chunk in store.stream(matched):
            got.append(chunk)
            first.set()

    reader = asyncio.ensure_future(read())
    await asyncio.wait_for(first.wait(), 5)  # the follower has the first bytes before the rest exists
    assert got == [b"one "]
    await store.append(entry, b"two")
    await store.finish(entry)
    await asyncio.wait_for(reader, 5)
    assert b"".join(got) == b"one two" and matched.complete


async def test_closing_store_wakes_waiting_followers_with_nothing() -> None:
    store = _store()
    waiting = asyncio.ensure_future(store.match("f", key_for("GET", "http://a.test/never"), 3600))
    await asyncio.sleep(0)
    await store.end()
    assert await asyncio.wait_for(waiting, 5) is None


async def test_store_bounds_the_number_of_waiting_followers() -> None:
    store = _store(ResponseLimits(max_waiters=1))
    key = key_for("GET", "http://a.test/never")
    first = asyncio.ensure_future(store.match("f", key, 3600))
    await asyncio.wait_for(store.until_waiting(), 5)
    assert await asyncio.wait_for(store.match("g", key, 3600), 5) is None  # refused, not queued
    await store.end()
    await first


NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


async def test_follower_landing_on_a_page_the_leader_reached_by_post_is_served_the_leaders_document(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=30.0)
    await party.server.request("POST", party.url("/submit"), data={"name": "Ann"}, cookies=party.leader,
                               headers=NAVIGATE)
    landed = await party.server.request("GET", party.url("/submit"), cookies=party.follower, headers=NAVIGATE)
    assert landed.status == 200 and b"posted Ann as hit 1" in landed.body
    assert target.hits == Counter({"POST /submit": 1})


async def test_follower_reloading_a_page_it_already_had_catches_up_without_the_long_wait(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=30.0)
    await party.server.request("GET", party.url("/page"), cookies=party.leader, headers=NAVIGATE)
    first = await party.server.request("GET", party.url("/page"), cookies=party.follower, headers=NAVIGATE)
    again = await party.server.request("GET", party.url("/page"), cookies=party.follower, headers=NAVIGATE,
                                       deadline=20)
    assert first.status == again.status == 200
    assert b"hit 1" in again.body and target.hits["GET /page"] == 1
    # Not a navigation: a subresource that was used up still waits for the driver's next copy.
    await party.get(party.leader, "/data")
    await party.get(party.follower, "/data")
    task = asyncio.ensure_future(party.get(party.follower, "/data"))
    await asyncio.sleep(2.5)
    assert not task.done()
    await party.get(party.leader, "/data")
    status, body = await task
    assert status == 200 and b'"hit": 2' in body


async def test_follower_reload_gets_its_subresources_at_once_after_catching_up(
        start_server: StartCobrowse, target: Target) -> None:
    party = await _party(start_server, target, follower_wait=30.0)
    await party.server.request("GET", party.url("/page"), cookies=party.leader, headers=NAVIGATE)
    await party.get(party.leader, "/data")
    await party.server.request("GET", party.url("/page"), cookies=party.follower, headers=NAVIGATE)
    await party.get(party.follower, "/data")
    # A drift repair: the follower loads the page again, then its data, with no new driver copy.
    reloaded = await party.server.request("GET", party.url("/page"), cookies=party.follower, headers=NAVIGATE)
    assert reloaded.status == 200
    status, body = await asyncio.wait_for(party.get(party.follower, "/data"), timeout=8)
    assert status == 200 and b'"hit": 1' in body
    assert target.hits == Counter({"GET /page": 1, "GET /data": 1})
