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

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from test_join_pin import new_pin, post_pin
from world.harness import API_KEY, Cobrowse, StartCobrowse
from world.sync_client import TARGET

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
