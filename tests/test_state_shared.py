"""A session's server-side state is shared by several processes on one Redis.

Two servers are built (``proxy.app.build_app``) on stores of one Redis namespace, with the same
secret and domain and different ports, as two ``cobrowse serve`` processes behind a load balancer
would be. Each test drives one property through both:

- rate limits count a client's requests and failures across processes;
- a PIN issued through one process is redeemed through the other, once;
- a session's expiry and idle timers end it on whichever process is alive, and activity seen by
  either process keeps it alive;
- a visitor registered through one process is watched through the other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from test_join_pin import new_pin, post_pin
from test_lifecycle import described, ended, keep_busy
from world.harness import API_KEY, Cobrowse, StartCobrowse, stop_cobrowse
from world.sync_client import TARGET, connect, hello, start_session

from proxy.redis_store import RedisStore
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
    async def start(**config_fields: Any) -> Two:
        namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
        fields = {"secret_key": SECRET, **config_fields}
        a = await start_server(store=RedisStore.from_url(redis_url, namespace), **fields)
        b = await start_server(store=RedisStore.from_url(redis_url, namespace), **fields)
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
    assert await ended_events(two) == 2  # quiet and busy, each ended once, by one of the two


async def ended_events(two: Two) -> int:
    """How many sessions the two processes have ended, together (their metrics)."""
    total = 0.0
    for server in (two.a, two.b):
        reply = await server.request("GET", f"{server.control}/metrics", cookies={})
        assert reply.status == 200, reply.text
        total += sum(float(line.split()[-1]) for line in reply.text.splitlines()
                     if line.startswith("cobrowse_sessions_ended_total "))
    return int(total)
