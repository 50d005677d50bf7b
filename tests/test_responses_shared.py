"""The driver's response store in the shared state: its contract on both backends, and fetch once
across two server processes.

The contract tests run every case on ``MemoryShared`` and on ``RedisShared`` over a real
``redis-server`` (conftest's ``redis_url``, a namespace per test). Each case uses two handles on
the session's store, ``one`` and ``two``, standing for two processes (on Redis: two clients, each
with its own pub/sub connection); the driver records through one and the follower is served
through the other.

The last tests build two apps (``proxy.app.build_app``) on stores of one Redis namespace, with
the same secret and domain and different ports, as two ``cobrowse serve`` processes would be:
the leader's requests go through one, the follower's through the other, and the target counts
one hit per driver request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from test_fetch_once import BIG, TARGET, Target, add_follower
from world.harness import Cobrowse, StartCobrowse
from world.targets import serve_app

from proxy.keys import RESPONSES
from proxy.redis_shared import RedisShared
from proxy.redis_store import RedisStore
from sessions import response_state as rs
from sessions.matching import RequestKey, key_for
from sessions.preflight import PreflightKey, preflight_key
from sessions.response_state import Failure
from sessions.responses import Entry, Head, ResponseLimits, ResponseStore
from sessions.shared import MemoryShared, Shared

SECRET = b"r" * 32
LONG = 3600.0  # a wait a test would hang on: what must come at once must not wait for it


@dataclass(slots=True)
class Pair:
    """One session's store seen by two processes."""

    one: ResponseStore
    two: ResponseStore
    shared: tuple[Shared, Shared]


@pytest.fixture(params=["memory", "redis"])
async def backends(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Shared, Shared]]:
    if request.param == "memory":
        shared = MemoryShared()
        yield shared, shared
        return
    url = request.getfixturevalue("redis_url")
    namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
    first, second = RedisShared.from_url(url, namespace), RedisShared.from_url(url, namespace)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def _pair(backends: tuple[Shared, Shared], limits: ResponseLimits | None = None) -> Pair:
    return Pair(ResponseStore(backends[0], "s1", limits), ResponseStore(backends[1], "s1", limits), backends)


@pytest.fixture
def pair(backends: tuple[Shared, Shared]) -> Pair:
    return _pair(backends)


def _head(content_type: str = "image/png", **extra: str) -> Head:
    return Head(200, "OK", (("Content-Type", content_type), *extra.items()), "http://a.test/")


async def _record(store: ResponseStore, key: RequestKey, body: bytes = b"x", **how: bool) -> Entry:
    entry = await store.begin("d", key, _head(), raw=True, **how)
    await store.append(entry, body)
    await store.finish(entry)
    return entry


async def _waiting(store: ResponseStore) -> None:
    """Until a follower waits in ``store`` (the fence before the driver answers it)."""
    await asyncio.wait_for(store.until_waiting(), 5)


async def test_followers_are_paired_in_order_and_read_what_the_driver_recorded(pair: Pair) -> None:
    key = key_for("GET", "http://a.test/poll")
    recorded = [await _record(pair.one, key, f"answer {n}".encode()) for n in range(3)]
    for follower in ("f", "g"):  # each follower gets its own pass through the driver's order
        served = [await pair.two.match(follower, key, 0) for _ in range(3)]
        assert [e.id if e else None for e in served] == [e.id for e in recorded]
    served_entry = await pair.two.match("h", key, 0)
    assert served_entry is not None and served_entry.head == _head() and served_entry.key == key
    assert b"".join([c async for c in pair.two.stream(served_entry)]) == b"answer 0"


async def test_two_processes_never_hand_one_driver_entry_to_two_requests_of_one_follower(pair: Pair) -> None:
    key = key_for("GET", "http://a.test/img.png")
    recorded = {(await _record(pair.one, key)).id for _ in range(10)}
    served = await asyncio.gather(*(store.match("f", key, 0) for store in (pair.one, pair.two) * 5))
    assert sorted(e.id for e in served if e is not None) == sorted(recorded)


async def test_a_follower_waiting_on_one_process_gets_the_entry_the_driver_records_on_another(
        pair: Pair) -> None:
    key = key_for("GET", "http://a.test/later")
    waiting = asyncio.ensure_future(pair.two.match("f", key, LONG))
    await _waiting(pair.two)
    entry = await _record(pair.one, key)
    served = await asyncio.wait_for(waiting, 5)
    assert served is not None and served.id == entry.id


async def test_a_raw_body_streams_to_another_process_while_the_driver_copy_arrives(pair: Pair) -> None:
    key = key_for("GET", "http://a.test/file")
    entry = await pair.one.begin("d", key, _head(), raw=True)
    await pair.one.append(entry, b"one ")
    served = await pair.two.match("f", key, 1)
    assert served is not None
    got: list[bytes] = []
    first = asyncio.Event()

    async def read() -> None:
        async for chunk in pair.two.stream(served):
            got.append(chunk)
            first.set()

    reader = asyncio.ensure_future(read())
    await asyncio.wait_for(first.wait(), 5)  # the first bytes are out before the rest exists
    await pair.one.append(entry, b"two")
    await pair.one.finish(entry)
    await asyncio.wait_for(reader, 5)
    assert b"".join(got) == b"one two" and served.complete and served.servable


async def test_a_decoded_body_is_given_once_the_driver_has_all_of_it(pair: Pair) -> None:
    key = key_for("GET", "http://a.test/page")
    entry = await pair.one.begin("d", key, _head("text/html"), raw=False)
    await pair.one.append(entry, b"<p>half")
    served = await pair.two.match("f", key, 1)
    assert served is not None
    body = asyncio.ensure_future(pair.two.body(served))
    await pair.one.append(entry, b" and all</p>")
    await pair.one.finish(entry)
    assert await asyncio.wait_for(body, 5) == b"<p>half and all</p>"


async def test_a_body_over_the_cap_is_too_large_to_share_and_holds_nothing(backends: tuple[Shared, Shared]) -> None:
    pair = _pair(backends, ResponseLimits(max_response=10))
    entry = await pair.one.begin("d", key_for("GET", "http://a.test/big"), _head(), raw=True)
    await pair.one.append(entry, b"x" * 8)
    await pair.one.append(entry, b"x" * 8)
    await pair.one.finish(entry)
    served = await pair.two.match("f", entry.key, 0)
    assert served is not None and served.too_large and not served.servable
    assert await pair.two.held_bytes() == 0 and await pair.two.body_of(served) == b""


async def test_eviction_drops_the_oldest_complete_bodies_but_never_the_latest_document_or_one_arriving(
        backends: tuple[Shared, Shared]) -> None:
    pair = _pair(backends, ResponseLimits(max_response=100, budget=150))
    document = await pair.one.begin("d", key_for("GET", "http://a.test/"), _head("text/html"), raw=False,
                                    document=True)
    await pair.one.append(document, b"d" * 100)
    await pair.one.finish(document)
    arriving = await pair.one.begin("d", key_for("GET", "http://a.test/arriving"), _head(), raw=True)
    await pair.one.append(arriving, b"a" * 100)
    older = await _record(pair.two, key_for("GET", "http://a.test/1"), b"1" * 40)  # through the other process
    newer = await _record(pair.one, key_for("GET", "http://a.test/2"), b"2" * 40)
    assert await pair.two.held_bytes() <= 150  # the body still arriving counts once complete
    for entry in (document, arriving, older, newer):
        await pair.two.refresh(entry)
    assert older.evicted and not older.servable and await pair.two.body_of(older) == b""
    assert document.servable and arriving.servable and newer.servable
    assert await pair.two.body_of(arriving) == b"a" * 100


async def test_a_broken_driver_copy_ends_the_followers_stream_and_later_followers_get_the_failure(
        pair: Pair) -> None:
    key = key_for("GET", "http://a.test/broken")
    entry = await pair.one.begin("d", key, _head(), raw=True)
    await pair.one.append(entry, b"part")
    served = await pair.two.match("f", key, 0)
    assert served is not None
    reading = asyncio.ensure_future(_drain(pair.two, served))
    broken = Failure(502, "Transfer broken", "cut")
    await pair.one.fail(entry, broken)
    await asyncio.wait_for(reading, 5)
    assert not served.servable and served.failure == broken
    later = await pair.two.match("g", key, 0)
    assert later is not None and later.failure == broken


async def _drain(store: ResponseStore, entry: Entry) -> bytes:
    return b"".join([chunk async for chunk in store.stream(entry)])


async def test_ending_wakes_waiters_on_every_process_and_deletes_the_shared_keys(pair: Pair) -> None:
    entry = await _record(pair.one, key_for("GET", "http://a.test/kept"), b"body")
    await pair.one.preflights.put(_preflight(), 204, "No Content", (), now=1e10)
    waiting = asyncio.ensure_future(pair.two.match("f", key_for("GET", "http://a.test/never"), LONG))
    await _waiting(pair.two)
    await pair.one.end()
    assert await asyncio.wait_for(waiting, 5) is None
    assert await pair.two.body_of(entry) == b"" and await pair.two.entries() == []
    assert await pair.two.preflights.get(_preflight(), now=1e10) is None
    # A request still in flight cannot start the ended session's state again.
    late = await ResponseStore(pair.shared[1], "s1").begin("d", key_for("GET", "http://a.test/late"), _head(),
                                                         raw=True)
    assert late.evicted and await ResponseStore(pair.shared[0], "s1").entries() == []


def _preflight() -> PreflightKey:
    return preflight_key("http://api.test/x", "http://a.test", "POST", "content-type")


async def test_a_preflight_answer_stored_by_one_process_answers_the_other(pair: Pair) -> None:
    stored = await pair.one.preflights.put(_preflight(), 204, "No Content",
                                           (("Access-Control-Max-Age", "60"),), now=1e10)
    assert await pair.two.preflights.get(_preflight(), now=1e10 + 59) == stored
    assert await pair.two.preflights.get(_preflight(), now=1e10 + 61) is None


async def test_a_target_socket_reaches_followers_on_another_process_backlog_first_nothing_twice(
        pair: Pair) -> None:
    key = key_for("WEBSOCKET", "http://a.test/ws")
    channel = await pair.one.open_channel(key, "v1")
    await channel.publish(True, "welcome")
    await channel.record(True, "driver asks 0123456789abcdefABCD")
    subscription = await pair.two.attach(key, 0)
    assert subscription is not None and subscription.protocol == "v1"
    await channel.publish(False, b"\x00\xffbinary")
    await pair.one.close_channel(channel)
    got = [m async for m in subscription.messages()]
    assert got == [(True, "welcome"), (False, b"\x00\xffbinary")]
    assert subscription.sent.next_seq == 1  # the driver's send, for pairing its twin
    await subscription.cancel()
    assert await pair.two.attach(key, 0) is None  # closed: nothing to follow any more


async def test_a_follower_socket_first_waits_for_the_drivers_on_another_process(pair: Pair) -> None:
    key = key_for("WEBSOCKET", "http://a.test/ws")
    attaching = asyncio.ensure_future(pair.two.attach(key, LONG))
    channel = await pair.one.open_channel(key)
    subscription = await asyncio.wait_for(attaching, 5)
    assert subscription is not None
    await channel.publish(True, "first")
    messages = subscription.messages()
    assert await asyncio.wait_for(anext(messages), 5) == (True, "first")
    await pair.one.close_channel(channel)
    await subscription.cancel()


# -- two server processes on one Redis ----------------------------------------------------------------

@dataclass(slots=True)
class Two:
    """A session on two servers sharing one Redis namespace: the leader on ``a``, a follower on ``b``."""

    a: Cobrowse
    b: Cobrowse
    target: Target
    sid: str
    leader: dict[str, str]
    follower: dict[str, str]

    async def get(self, server: Cobrowse, who: dict[str, str], path: str) -> tuple[int, bytes]:
        reply = await server.request("GET", server.proxy_url(self.sid, TARGET, path), cookies=who,
                                     max_body=len(BIG) + 1)
        return reply.status, reply.body


@pytest.fixture
async def two(start_server: StartCobrowse, redis_url: str) -> AsyncIterator[Two]:
    target = Target()
    runner, target.port = await serve_app(target.app())
    namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
    fields = {"secret_key": SECRET, "resolve_overrides": {f"{TARGET}:80": ("127.0.0.1", target.port)},
              "follower_wait": 5.0}
    a = await start_server(store=RedisStore.from_url(redis_url, namespace), **fields)
    b = await start_server(store=RedisStore.from_url(redis_url, namespace), **fields)
    created = await a.create_session(f"http://{TARGET}/page")
    await a.redeem(created["leader_url"])
    _, follower = await add_follower(b, created["id"])
    try:
        yield Two(a, b, target, created["id"], dict(a.cookies), follower)
    finally:
        target.release.set()
        await runner.cleanup()


async def test_across_processes_the_target_is_hit_once_per_driver_request(two: Two) -> None:
    status, leader_page = await two.get(two.a, two.leader, "/page")
    assert status == 200
    status, follower_page = await two.get(two.b, two.follower, "/page")
    assert status == 200 and b"<p>hit 1</p>" in leader_page and b"<p>hit 1</p>" in follower_page
    # The follower first: it waits on b for what the leader's request through a brings.
    waiting = asyncio.ensure_future(two.get(two.b, two.follower, "/data?q=1"))
    await _waiting(two.b.runner.app[RESPONSES].for_session(two.sid))
    assert (await two.get(two.a, two.leader, "/data?q=1"))[0] == 200
    status, data = await asyncio.wait_for(waiting, 10)
    assert status == 200 and b'"hit": 1' in data
    assert two.target.hits == {"GET /page": 1, "GET /data": 1}


async def test_across_processes_a_large_body_streams_to_the_follower_while_the_leader_gets_it(two: Two) -> None:
    leader = asyncio.ensure_future(two.get(two.a, two.leader, "/big"))
    follower = asyncio.ensure_future(two.get(two.b, two.follower, "/big"))
    (leader_status, leader_body), (follower_status, follower_body) = await asyncio.wait_for(
        asyncio.gather(leader, follower), 30)
    assert (leader_status, follower_status) == (200, 200)
    assert leader_body == BIG and follower_body == BIG
    assert two.target.hits["GET /big"] == 1


async def test_across_processes_a_target_websocket_is_opened_once_and_copied_to_the_follower(two: Two) -> None:
    def headers(server: Cobrowse, who: dict[str, str]) -> dict[str, str]:
        host = server.proxy_url(two.sid, TARGET, "/ws").split("/")[2]  # a page of the session opens it
        return {"Host": host, "Origin": f"http://{host}", "Cookie": "; ".join(f"{k}={v}" for k, v in who.items())}

    async with two.a.client.ws_connect(f"http://127.0.0.1:{two.a.port}/ws",
                                       headers=headers(two.a, two.leader)) as leader:
        assert (await leader.receive_str(timeout=5)) == "welcome"
        async with two.b.client.ws_connect(f"http://127.0.0.1:{two.b.port}/ws",
                                           headers=headers(two.b, two.follower)) as follower:
            assert (await follower.receive_str(timeout=5)) == "welcome"  # the backlog first
            await follower.send_str("forged")
            await leader.send_str("hi")
            assert (await leader.receive_str(timeout=5)) == "echo hi"
            assert (await follower.receive_str(timeout=5)) == "echo hi"
    assert two.target.ws_received == ["hi"]
    assert two.target.hits["GET /ws"] == 1


async def test_ending_through_one_process_ends_a_follower_waiting_on_the_other(two: Two) -> None:
    waiting = asyncio.ensure_future(two.get(two.b, two.follower, "/never-asked"))
    store = two.b.runner.app[RESPONSES].for_session(two.sid)
    await _waiting(store)
    reply = await two.a.api("DELETE", f"/api/v1/sessions/{two.sid}")
    assert reply.status in (200, 204)
    status, _ = await asyncio.wait_for(waiting, 5)  # at once, not after the 5 s wait
    assert status == 504
    assert "GET /never-asked" not in two.target.hits


def test_the_shared_state_round_trips_through_its_json_form_and_kept_rows_match_a_fresh_encoding() -> None:
    limits = rs.Limits(max_response=100, budget=250, max_entries=6)
    state = rs.State()
    for n in range(9):  # past max_entries and the budget: forgotten and evicted entries on the way
        key = key_for("POST" if n % 3 else "GET", f"http://a.test/{n % 4}", "text/plain", b"%d" % (n % 2))
        entry_id, _ = rs.begin(state, limits, "d", key, rs.Meta(f"t{n}", n % 2 == 0, True, True),
                               navigation=n % 4 == 0)
        rs.grow(state, limits, entry_id, 60 + n)
        if n != 7:
            rs.finish(state, limits, entry_id, 60 + n)
        rs.claim(state, "f", key)
        written = rs.state_json(state)  # rows kept from the writes before
        again = rs.state_of(written)
        assert rs.state_json(again) == written  # a fresh encoding of the parsed state is the same text
        assert again.entries == state.entries and again.ledger == state.ledger
    assert len(state.entries) == 6 and state.held <= 250
    assert any(meta.evicted for meta in state.entries.values())
