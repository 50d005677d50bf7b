"""Rate limits: token buckets as a script of times, and the live API's 429 with ``Retry-After``.

Per key: a key past its burst is refused 429 (a problem document, ``Retry-After`` in whole
seconds) while another key goes on. Per address: past the failed-authentication burst every
request from that address is refused 429 before any key is looked at, the right key too.
Rates are set so slow (one token in 100 s) that no refill can happen during a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from world.apikeys import create_key
from world.harness import API_KEY, Reply, StartCobrowse

from proxy.ratelimit import Buckets, Rate, refill, retry_after, taken
from sessions.shared import MemoryShared

SLOW = 0.01  # tokens a second: a test never sees a refill


async def test_a_bucket_gives_its_burst_then_says_how_long_to_wait() -> None:
    buckets = Buckets(MemoryShared(), "t", Rate(per_second=2, burst=3))
    assert [await buckets.take("k", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await buckets.take("k", 10.0) == pytest.approx(0.5)
    assert await buckets.wait("k", 10.25) == pytest.approx(0.25)  # half a token back after 0.25 s
    assert await buckets.take("k", 10.5) == 0.0 and await buckets.take("k", 10.5) > 0
    assert await buckets.take("other", 10.5) == 0.0  # names are independent
    assert await buckets.wait("k", 1000.0) == 0.0 and await buckets.take("k", 1000.0) == 0.0  # refills to the burst
    assert [await buckets.take("k", 1000.0) for _ in range(3)].count(0.0) == 2


async def test_a_bucket_is_forgotten_once_it_would_be_full_again_and_comes_back_full() -> None:
    clock = [0.0]
    shared = MemoryShared(clock=lambda: clock[0])
    buckets = Buckets(shared, "t", Rate(per_second=1, burst=2))
    assert [await buckets.take("a", 0.0) for _ in range(3)][2] > 0
    assert await shared.get("rate:t:a") is not None
    clock[0] = 3.5  # an empty bucket is full after 2 s: kept 1 s more, then forgotten
    assert await shared.get("rate:t:a") is None
    assert await buckets.take("a", 3.5) == 0.0


def test_a_kept_bucket_that_is_not_one_counts_as_full() -> None:
    rate = Rate(per_second=1, burst=2)
    assert refill("garbage", rate, 5.0) == 2 and refill(None, rate, 5.0) == 2
    assert taken("0.5 4.0", rate, 4.25) == (None, pytest.approx(0.25))


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.2, 99.5)] == ["1", "1", "2", "100"]
    with pytest.raises(ValueError):
        Rate(per_second=0, burst=1)


def _is_429(reply: Reply) -> bool:
    if reply.status != 429:
        return False
    assert (reply.header("Content-Type") or "").startswith("application/problem+json")
    assert json.loads(reply.body)["status"] == 429
    wait = reply.header("Retry-After") or ""
    assert wait.isdigit() and int(wait) >= 1, wait
    return True


async def test_a_key_past_its_burst_gets_429_with_retry_after_while_another_key_goes_on(
        start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(data_dir=str(tmp_path), api_rate=SLOW, api_burst=3)
    busy = create_key(tmp_path, "busy", "--scope", "sessions:read")
    replies = [await server.api("GET", "/api/v1/sessions/nosuchsession", key=busy) for _ in range(4)]
    assert [r.status for r in replies[:3]] == [404, 404, 404]
    assert _is_429(replies[3])
    assert int(replies[3].header("Retry-After") or 0) >= 90  # one token at 0.01/s
    assert (await server.api("GET", "/api/v1/sessions/nosuchsession")).status == 404  # the server's own key


async def test_an_address_that_fails_too_often_is_refused_before_its_key_is_looked_at(
        start_server: StartCobrowse) -> None:
    server = await start_server(auth_failure_rate=SLOW, auth_failure_burst=3)
    wrong = [await server.api("GET", "/api/v1/sessions/x", key="guess") for _ in range(3)]
    assert [r.status for r in wrong] == [401, 401, 401]
    assert _is_429(await server.api("GET", "/api/v1/sessions/x", key="guess"))
    assert _is_429(await server.api("GET", "/api/v1/sessions/x", key=API_KEY))  # the right key learns nothing


async def test_wrong_scope_is_not_a_failed_authentication(start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(data_dir=str(tmp_path), auth_failure_rate=SLOW, auth_failure_burst=1)
    reader = create_key(tmp_path, "reader", "--scope", "sessions:read")
    refused = [await server.api("DELETE", "/api/v1/sessions/x", key=reader) for _ in range(3)]
    assert [r.status for r in refused] == [403, 403, 403]
    assert (await server.api("GET", "/api/v1/sessions/x", key=reader)).status == 404
