"""Threat-model rows on a session's end: expiry, ``end_redirect_url``, what the browser keeps,
and the sync socket's send-queue cap.

- A session past its lifetime answers 410 on every host and its open sync sockets are sent
  ``ended`` and closed (before: new requests got 410 but open sockets lived on).
- ``end_redirect_url`` is accepted only as an absolute http(s) URL of printable ASCII, and is
  what the end sends participants to (before: CR/LF and ``javascript:`` were accepted).
- After the end, the participant's browser's next request to a session host clears that
  origin's storage, caches and service workers, and (through the ended page) those of every
  other origin the session reached, and nothing of another live session.
- A participant that stops reading is cut off at ``OUTBOX_LIMIT`` queued messages.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser
from world import HitLog, ServeWorld, World
from world.harness import AGENT, Cobrowse, StartCobrowse, cookies_from
from world.hits import hit_middleware
from world.sync_client import ScriptedParty as Party
from world.sync_client import connect, hello, host_of, join, until_closed

from proxy.relay_rooms import RelayRooms, channel, encode
from proxy.synchub import OUTBOX_LIMIT, CloseFrame, SyncHub
from sessions.credentials import Signer
from sessions.protocol import CLOSE_TOO_SLOW
from sessions.relay import Member, Outcome, Send
from sessions.service import SessionService
from sessions.shared import MemoryShared
from sessions.store import MemoryStore

TARGET = "http://keep.test/"
WAIT_MS = 15_000
LIFETIME = 3.0


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><title>keep</title><p id=t>kept</p>", content_type="text/html")


async def _sw(request: web.Request) -> web.Response:
    return web.Response(text="self.addEventListener('install', () => self.skipWaiting());",
                        content_type="text/javascript")


def make_target(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/", _page)
    app.router.add_get("/other", _page)
    app.router.add_get("/sw.js", _sw)
    return app


@pytest.fixture
async def target(serve_world: ServeWorld) -> World:
    return await serve_world({"keep.test": make_target, "cdn.keep.test": make_target})


async def create(server: Cobrowse, **fields: Any) -> tuple[int, dict[str, Any]]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": TARGET, "agent": AGENT, **fields})
    return reply.status, json.loads(reply.body)


# -- expiry ------------------------------------------------------------------------------------


async def test_an_expired_session_answers_410_everywhere_and_its_sync_sockets_close(
        target: World, start_server: StartCobrowse) -> None:
    server = await start_server(resolve_overrides=target.resolve_overrides(), session_lifetime=LIFETIME)
    status, created = await create(server)
    assert status == 201
    entered = await server.request("GET", created["leader_url"], cookies={})
    leader = Party(cookies_from(entered.headers))
    follower = await join(server, created)
    sockets = []
    for party in (leader, follower):
        ws = await connect(server, created, party, host=host_of(server, created, "keep.test"))
        await hello(ws, party, f"page-{len(sockets)}", url=TARGET)
        sockets.append(ws)
    page = server.proxy_url(created["id"], "keep.test")
    assert (await server.request("GET", page, cookies=leader.cookies)).status == 200
    # The positive event: each socket is told the session ended and is closed, with no request made.
    seen = await asyncio.wait_for(asyncio.gather(*(until_closed(ws) for ws in sockets)), LIFETIME + 10)
    for ws, messages in zip(sockets, seen, strict=True):
        # ``ended`` is what the runtime acts on. The close code is not asserted: when the server's
        # reader is mid-receive as the writer closes, aiohttp drops the transport right after
        # its 4000 frame, and a client that replies late records 1006 (a race in the endpoint).
        assert [m["type"] for m in messages][-1:] == ["ended"] and ws.closed
    assert time.time() >= created_at(created) + LIFETIME - 0.5
    urls = [page, server.proxy_url(created["id"], "cdn.keep.test", "/other"),
            server.proxy_url(created["id"], "never-visited.test"),
            server.proxy_url(created["id"], "keep.test", "/__cb/runtime.js")]
    for party in (leader, follower):
        for url in urls:
            reply = await server.request("GET", url, cookies=party.cookies)
            assert reply.status == 410, url
            assert reply.header("Clear-Site-Data") == '"cache", "storage"'
    described = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert described["status"] == "ended"


def created_at(created: dict[str, Any]) -> float:
    from datetime import datetime
    return datetime.fromisoformat(created["created_at"].replace("Z", "+00:00")).timestamp()


# -- end_redirect_url --------------------------------------------------------------------------

REFUSED_REDIRECTS = [
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x", "ftp://example.com/",
    "https://example.com/\r\nSet-Cookie: a=b", "https://example.com/\nx", "https://example.com/\tx",
    " https://example.com/", "https://exa mple.com/", "https:example.com/", "//example.com/",
    "https:\\\\example.com", "https://example.com/\x00", "https://exämple.com/", "/relative", 5,
]


@pytest.mark.parametrize("bad", REFUSED_REDIRECTS, ids=repr)
async def test_end_redirect_url_other_than_plain_http_or_https_is_refused_with_400(
        start_server: StartCobrowse, bad: object) -> None:
    server = await start_server()
    status, body = await create(server, end_redirect_url=bad)
    assert status == 400, body
    assert "end_redirect_url" in body["error"]


async def test_end_redirect_url_is_accepted_and_is_where_the_end_sends_participants(
        target: World, start_server: StartCobrowse) -> None:
    server = await start_server(resolve_overrides=target.resolve_overrides())
    for good in ("http://example.com/", "HTTPS://thanks.example/after?x=1#y"):
        status, _ = await create(server, end_redirect_url=good)
        assert status == 201, good
    status, created = await create(server, end_redirect_url="https://thanks.example/bye?x=1")
    entered = await server.request("GET", created["leader_url"], cookies={})
    leader = Party(cookies_from(entered.headers))
    ws = await connect(server, created, leader, host=host_of(server, created, "keep.test"))
    await hello(ws, leader, "p", url=TARGET)
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
    seen = await until_closed(ws)
    assert seen[-1]["type"] == "ended" and seen[-1]["redirect"] == "https://thanks.example/bye?x=1"
    ended = await server.request("GET", server.proxy_url(created["id"], "keep.test"), cookies=leader.cookies)
    assert ended.status == 410 and ended.header("Refresh") == "3; url=https://thanks.example/bye?x=1"


# -- what the browser keeps ------------------------------------------------------------------------

LEAVE_TRACES = """async () => {
  localStorage.setItem('k', 'v');
  const cache = await caches.open('c');
  await cache.put('/cached', new Response('x'));
  await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
}"""
TRACES = """async () => ({
  local: localStorage.length,
  caches: (await caches.keys()).length,
  workers: (await navigator.serviceWorker.getRegistrations()).length,
})"""


async def test_after_the_end_the_next_visit_clears_the_origins_storage_caches_and_service_worker(
        target: World, start_server: StartCobrowse, browser: Browser) -> None:
    server = await start_server(resolve_overrides=target.resolve_overrides())
    context = await browser.new_context()
    pages = []
    created = []
    for _ in range(2):  # session A ends; session B, in the same browser, must keep its data
        _, made = await create(server)
        page = await context.new_page()
        await page.goto(made["leader_url"])
        await page.wait_for_selector("#t", timeout=WAIT_MS)
        await page.evaluate(LEAVE_TRACES)
        assert await page.evaluate(TRACES) == {"local": 1, "caches": 1, "workers": 1}
        pages.append(page)
        created.append(made)
    # Session A also reached a second origin, left open in another tab.
    cdn = await context.new_page()
    await cdn.goto(server.proxy_url(created[0]["id"], "cdn.keep.test", "/other"))
    await cdn.wait_for_selector("#t", timeout=WAIT_MS)
    await cdn.evaluate(LEAVE_TRACES)
    assert (await server.api("DELETE", f"/api/v1/sessions/{created[0]['id']}")).status == 200
    ended = await pages[0].goto(server.proxy_url(created[0]["id"], "keep.test", "/other"))
    assert ended is not None and ended.status == 410
    assert await pages[0].evaluate(TRACES) == {"local": 0, "caches": 0, "workers": 0}
    # The ended page's hidden images reached each origin of the session (positive event:
    # each was answered), and their answers cleared those origins too.
    await pages[0].wait_for_function(
        "() => document.images.length === 2 && [...document.images].every((i) => i.complete)", timeout=WAIT_MS)
    assert await cdn.evaluate(TRACES) == {"local": 0, "caches": 0, "workers": 0}
    await pages[1].reload()
    assert await pages[1].evaluate(TRACES) == {"local": 1, "caches": 1, "workers": 1}
    await context.close()


# -- the send-queue cap ------------------------------------------------------------------------------


async def test_a_participant_that_stops_reading_is_cut_off_at_the_outbox_limit_not_buffered() -> None:
    service = SessionService(MemoryStore(), Signer(b"k" * 32))
    session = (await service.create(TARGET, "a1", "Ann", time.time())).session
    shared = MemoryShared()
    hub = SyncHub(RelayRooms(shared))
    slow_conn = await hub.attach(session, Member("p-slow", "follower", ""), TARGET, ())
    fast_conn = await hub.attach(session, Member("p-fast", "follower", ""), TARGET, ())
    assert slow_conn is not None and fast_conn is not None
    (slow_id, slow), (fast_id, fast) = slow_conn, fast_conn
    event = encode(Outcome(sends=(Send((slow_id, fast_id), {"type": "scroll", "n": 1, "y": 10}),)))
    for _ in range(OUTBOX_LIMIT + 500):
        await shared.publish(channel(session.id), event)  # as a relay event's transaction publishes
        assert isinstance(await fast.get(), str)  # a reader keeps up and is never cut off
    assert slow.closing and not fast.closing
    queued = [await slow.get() for _ in range(OUTBOX_LIMIT + 1)]
    assert all(isinstance(item, str) for item in queued[:-1])
    assert queued[-1] == CloseFrame(CLOSE_TOO_SLOW, "too slow")
    # Nothing more was kept for it: the queue ended with the close (the state is final, no race).
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow.get(), 0.05)
