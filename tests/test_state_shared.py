"""A session's server-side state is shared by several processes on one Redis.

Two servers are built (``proxy.app.build_app``) on stores of one Redis namespace, with the same
secret and domain and different ports, as two ``cobrowse serve`` processes behind a load balancer
would be. Each test drives one property through both:

- rate limits count a client's requests and failures across processes;
- a PIN issued through one process is redeemed through the other, once;
- a session's expiry and idle timers end it on whichever process is alive, and activity seen by
  either process keeps it alive;
- a visitor registered through one process is watched through the other, and a long poll held
  by one is woken by news from the other;
- an event stream on either process sees every event, in one order, and resumes on the other;
- a webhook gets each event once and in order, whichever process noted it, and a queue is taken
  over by the other process when the one sending it stops;
- the audit trail of a session served by both is two segments, one per process's data dir, each
  its own chain: ``cobrowse audit`` verifies and exports them together.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_events_sse import stream
from test_join_pin import new_pin, post_pin
from test_lifecycle import described, ended, keep_busy
from test_visitors import SHOP, _snippet
from test_webhooks import add_webhook, fast_retries  # noqa: F401 (a fixture)
from world.apikeys import create_key
from world.harness import API_KEY, Cobrowse, StartCobrowse, cookies_from, stop_cobrowse
from world.sync_client import TARGET, connect, hello, lead, post_join, start_session
from world.until import until
from world.webhook_receiver import start_receiver

from proxy.api_keyfile import KEY_FILE
from proxy.cli import main
from proxy.redis_store import RedisStore
from proxy.visitors import VISITORS
from sessions.pins import PinRules

SLOW = 0.01  # tokens a second: no refill during a test
SECRET = b"s" * 32


@dataclass(frozen=True, slots=True)
class Two:
    """Two servers sharing one Redis namespace: ``a`` and ``b``."""

    a: Cobrowse
    b: Cobrowse


StartTwo = Callable[..., Awaitable[Two]]


@pytest.fixture
def start_two(start_server: StartCobrowse, redis_url: str) -> StartTwo:
    async def start(data_dirs: tuple[Path, Path] | list[Path] = (), **config_fields: Any) -> Two:
        """``data_dirs``: each process's own (as two hosts have), else none."""
        namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
        fields = {"secret_key": SECRET, **config_fields}
        a, b = [await start_server(store=RedisStore.from_url(redis_url, namespace), **fields,
                                   **({"data_dir": str(data_dirs[i])} if data_dirs else {}))
                for i in range(2)]
        return Two(a, b)
    return start


async def test_a_keys_requests_are_counted_across_processes(start_two: StartTwo) -> None:
    two = await start_two(api_rate=SLOW, api_burst=3)
    statuses = [(await server.api("GET", "/api/v1/sessions/nosuch")).status for server in (two.a, two.b, two.a)]
    assert statuses == [404, 404, 404]
    assert (await two.b.api("GET", "/api/v1/sessions/nosuch")).status == 429
    assert (await two.a.api("GET", "/api/v1/sessions/nosuch")).status == 429


async def test_failed_authentications_are_counted_across_processes(start_two: StartTwo) -> None:
    two = await start_two(auth_failure_rate=SLOW, auth_failure_burst=2)
    assert (await two.a.api("GET", "/api/v1/sessions/x", key="guess")).status == 401
    assert (await two.b.api("GET", "/api/v1/sessions/x", key="guess")).status == 401
    assert (await two.a.api("GET", "/api/v1/sessions/x", key=API_KEY)).status == 429
    assert (await two.b.api("GET", "/api/v1/sessions/x", key=API_KEY)).status == 429


async def test_a_pin_issued_through_one_process_opens_its_session_through_the_other_once(
        start_two: StartTwo) -> None:
    two = await start_two()
    created = await two.a.create_session(TARGET)
    issued = await new_pin(two.a, created["id"])
    opened = await post_pin(two.b, issued["pin"])
    assert opened.status == 303 and (opened.header("Location") or "").startswith(f"/join/{created['id']}?link=")
    assert (await post_pin(two.a, issued["pin"])).status == 403
    assert (await post_pin(two.b, issued["pin"])).status == 403


async def test_wrong_pins_are_counted_across_processes(start_two: StartTwo) -> None:
    two = await start_two()
    created = await two.a.create_session(TARGET)
    issued = await new_pin(two.b, created["id"])
    wrong = "000000" if issued["pin"] != "000000" else "111111"
    for turn in range(PinRules().attempts):
        assert (await post_pin((two.a, two.b)[turn % 2], wrong)).status == 403
    assert (await post_pin(two.a, issued["pin"])).status == 429
    assert (await post_pin(two.b, issued["pin"])).status == 429


async def test_a_session_whose_process_stopped_is_ended_by_the_other_when_it_expires(
        start_two: StartTwo) -> None:
    two = await start_two(session_lifetime=1.0, idle_timeout=0)
    created = await two.a.create_session(TARGET)
    await stop_cobrowse(two.a)
    body = await ended(two.b, created["id"])
    assert body["ended_reason"] == "expired"


async def test_activity_on_either_process_keeps_a_session_alive_and_one_process_ends_it(
        start_two: StartTwo) -> None:
    two = await start_two(idle_timeout=1.0)
    busy, leader = await start_session(two.a)  # created (and timed) on a, used only through b
    ws = await connect(two.b, busy, leader)
    await hello(ws, leader, "page-l")
    quiet = await two.a.create_session(TARGET)
    stop = asyncio.Event()
    beat = asyncio.create_task(keep_busy(ws, leader, stop))
    try:
        assert (await ended(two.b, quiet["id"]))["ended_reason"] == "idle"
        # The busy session is older than the quiet one: had b's activity not counted on a, it
        # would have idled out first.
        assert (await described(two.a, busy["id"]))["status"] == "live"
    finally:
        stop.set()
        await beat
    assert (await ended(two.a, busy["id"]))["ended_reason"] == "idle"
    await ws.close()
    # Quiet and busy, each ended once, by one of the two (the counters follow the events' dispatch).
    assert await until(lambda: ended_events(two), "both sessions counted as ended") == 2


async def ended_events(two: Two) -> int:
    """How many sessions the two processes have ended, together (their metrics); 0 until 2."""
    total = 0.0
    for server in (two.a, two.b):
        reply = await server.request("GET", f"{server.control}/metrics", cookies={})
        assert reply.status == 200, reply.text
        total += sum(float(line.split()[-1]) for line in reply.text.splitlines()
                     if line.startswith("cobrowse_sessions_ended_total "))
    return int(total) if total >= 2 else 0


async def test_a_visitor_registered_through_one_process_is_watched_through_the_other(
        start_two: StartTwo, tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    for folder in dirs:
        folder.mkdir()
    key = create_key(dirs[0], "shop", "--site", "--origin", SHOP)
    shutil.copy(dirs[0] / KEY_FILE, dirs[1] / KEY_FILE)  # the one configuration every process reads
    two = await start_two(data_dirs=dirs)
    visitor = json.loads((await _snippet(two.a, "visitor", {"key": key, "url": SHOP + "/"})).body)
    made = await two.b.api("POST", f"/api/v1/visitors/{visitor['short_id']}/watch_url",
                           {"agent": {"id": "a1", "name": "Ann"}})
    assert made.status == 201, made.text
    watch_url = json.loads(made.body)["watch_url"]
    opened = await two.a.request("GET", watch_url, cookies={})
    assert opened.status == 303
    assert (await two.b.request("GET", watch_url, cookies={})).status == 410  # once, wherever it is opened
    agent = cookies_from(opened.headers)
    polled = json.loads((await _snippet(two.b, "poll", {"key": key, "token": visitor["token"]})).body)
    assert polled["request"] == {"agent": "Ann"}
    # The agent's browser waits on a; the visitor says yes on b; a's poll is woken by b's news.
    two.a.runner.app[VISITORS].poll_seconds = 3600.0
    waiting = asyncio.create_task(two.a.request("GET", f"{two.a.control}/watch/state", cookies=agent))

    async def held() -> bool:
        return two.a.runner.app[VISITORS].held() == 1

    await until(held, "the agent's poll held on a")
    started = await _snippet(two.b, "start", {"key": key, "token": visitor["token"], "url": SHOP + "/"})
    assert started.status == 200, started.text
    state = json.loads((await asyncio.wait_for(waiting, 30)).body)
    assert state["state"] == "ready" and (await two.a.request("GET", state["enter_url"], cookies={})).status == 302


async def test_an_event_stream_on_either_process_sees_every_event_once_in_one_order(start_two: StartTwo) -> None:
    two = await start_two()
    async with stream(two.a) as on_a, stream(two.b) as on_b:
        created = await two.a.create_session(TARGET)
        await lead(two.b, created)
        assert (await two.a.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
        seen_a = [await on_a.event() for _ in range(3)]
        seen_b = [await on_b.event() for _ in range(3)]
    assert [m.event for m in seen_b] == ["session.created", "participant.joined", "session.ended"]
    assert [m.id for m in seen_a] == [m.id for m in seen_b]
    # A client that resumes on the other process gets what followed its last event, once.
    async with stream(two.b, last=seen_a[0].id) as resumed:
        assert [(await resumed.event()).id for _ in range(2)] == [m.id for m in seen_a[1:]]
        later = await two.b.create_session(TARGET)
        live = await resumed.event()
    assert live.event == "session.created" and live.json["session_id"] == later["id"]


@pytest.mark.usefixtures("fast_retries")
async def test_a_webhook_gets_each_event_once_in_order_whichever_process_noted_it(start_two: StartTwo) -> None:
    two = await start_two()
    receiver = await start_receiver(fail_first=1)  # the first try fails: the retry is one process's too
    try:
        await add_webhook(two.a, receiver)
        created = await two.b.create_session(TARGET)  # noted on b
        await lead(two.a, created)  # joined: noted on a
        await post_join(two.b, created, "Vic")  # noted on b
        assert (await two.a.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200  # on a
        await receiver.wait_for(lambda e: e["type"] == "session.ended", "the session's end")
    finally:
        await receiver.close()
    assert [e["type"] for e in receiver.accepted] == [
        "session.created", "participant.joined", "participant.joined", "session.ended"]
    assert len(receiver.requests) == len(receiver.accepted) + 1  # each sent once, the failed one twice


@pytest.mark.usefixtures("fast_retries")
async def test_a_webhook_queue_is_taken_over_when_the_process_sending_it_stops(start_two: StartTwo) -> None:
    two = await start_two()
    receiver = await start_receiver(fail_first=2)
    try:
        hook = await add_webhook(two.a, receiver)
        created = await two.a.create_session(TARGET)

        async def retried() -> bool:
            return len(receiver.requests) >= 1

        await until(retried, "a first, failed, delivery")
        await stop_cobrowse(two.a)  # a held the queue: b sends the rest
        assert (await two.b.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
        await receiver.wait_for(lambda e: e["type"] == "session.ended", "the session's end", seconds=60)
        listed = json.loads((await two.b.api("GET", f"/api/v1/webhooks/{hook['id']}/deliveries")).body)
    finally:
        await receiver.close()
    assert [e["type"] for e in receiver.accepted] == ["session.created", "session.ended"]
    assert listed["counters"] == {"pending": 0, "delivered": 2, "failed": 0, "dropped": 0}


async def test_a_trail_written_by_two_processes_is_verified_and_exported_from_both_segments(
        start_two: StartTwo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]  # each process its own data dir, its own audit keys
    two = await start_two(data_dirs=dirs)
    created = await two.a.create_session(TARGET)  # 'created' is written by a
    await lead(two.b, created)  # 'joined' by b
    assert (await two.b.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200  # 'ended' by b
    await stop_cobrowse(two.a)  # a clean stop drains and syncs each trail
    await stop_cobrowse(two.b)
    sid = created["id"]
    both = [arg for d in dirs for arg in ("--data-dir", str(d))]
    capsys.readouterr()
    assert main(["audit", "verify", sid, *both]) == 0
    said = capsys.readouterr().out
    assert all(f"the segment in {d}" in said for d in dirs) and said.count("chain intact") == 2
    out = tmp_path / "trail.jsonl"
    assert main(["audit", "export", sid, "--format", "jsonl", "-o", str(out), *both]) == 0
    rows = [json.loads(line) for line in out.read_bytes().splitlines()]
    events = [r["record"]["name"] for r in rows if r["record"]["kind"] == "event"]
    assert events[0] == "created" and "joined" in events and events[-1] == "ended"
    assert [r["seq"] for r in rows].count(1) == 2  # two chains, each from its first record
    # One segment alone is a whole chain too (what a reader with one process's copy can check).
    assert main(["audit", "verify", sid, "--data-dir", str(dirs[0])]) == 0
