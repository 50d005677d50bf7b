"""The shared state's contract (``sessions.shared.Shared``), one suite for every backend.

Each backend must: run ``transact`` atomically (no change lost to concurrent ones, even when two
clients of one server race), apply a ``Write``'s value, list appends (trimmed) and messages as one
step, publish in transaction order; keep values, counters, lists and growing byte strings with
their times to live; deliver a message to every handler subscribed before it was published and
to none after its subscription closed. The Redis backend runs on a real server
(``conftest.redis_url``), one namespace per test; two clients of it stand for two processes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from world.until import until

from proxy.redis_shared import RedisShared
from sessions.shared import KEEP, MemoryShared, Push, Shared, SharedUnavailable, Write


def holds(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def ask() -> bool:
        return check()
    return ask


class Pair:
    """Two handles on one shared state, as two processes would hold."""

    def __init__(self, first: Shared, second: Shared) -> None:
        self.first, self.second = first, second


def _memory(_request: pytest.FixtureRequest) -> Pair:
    one = MemoryShared()
    return Pair(one, one)


def _redis(request: pytest.FixtureRequest) -> Pair:
    url = request.getfixturevalue("redis_url")
    namespace = f"cobrowse-test-{uuid.uuid4().hex}:"
    return Pair(RedisShared.from_url(url, namespace), RedisShared.from_url(url, namespace))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Pair]] = {"memory": _memory, "redis": _redis}


@pytest.fixture(params=sorted(BACKENDS))
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    made = BACKENDS[request.param](request)
    yield made
    await made.first.close()
    if made.second is not made.first:
        await made.second.close()


def _count(old: str | None) -> tuple[Write, int]:
    value = int(old or "0") + 1
    return Write(str(value)), value


async def test_transact_reads_writes_and_deletes(pair: Pair) -> None:
    shared = pair.first
    assert await shared.transact("k", lambda old: (None, old)) is None
    assert await shared.transact("k", _count) == 1
    assert await pair.second.get("k") == "1"
    assert await shared.transact("k", lambda old: (Write(KEEP), old)) == "1"
    assert await shared.transact("k", lambda old: (Write(None), old)) == "1"
    assert await pair.second.get("k") is None


async def test_concurrent_transactions_from_two_clients_lose_no_change(pair: Pair) -> None:
    await asyncio.gather(*(side.transact("n", _count) for _ in range(25) for side in (pair.first, pair.second)))
    assert await pair.first.get("n") == "50"


async def test_a_write_pushes_trimmed_lists_and_publishes_in_transaction_order(pair: Pair) -> None:
    heard: list[str] = []
    sub = await pair.second.subscribe("room", heard.append)

    def step(old: str | None) -> tuple[Write, int]:
        n = int(old or "0") + 1
        return Write(str(n), push=(Push("log", (f"m{n}",), 3),), publish=(("room", json.dumps({"n": n})),)), n

    await asyncio.gather(*(side.transact("relay", step) for _ in range(10) for side in (pair.first, pair.second)))
    await until(holds(lambda: len(heard) == 20), "every published message heard", 10)
    assert [json.loads(m)["n"] for m in heard] == list(range(1, 21))
    assert await pair.first.items("log") == ["m18", "m19", "m20"]
    await sub.close()


async def test_values_counters_and_bytes(pair: Pair) -> None:
    shared = pair.first
    await shared.put("v", "text é")
    assert await pair.second.get("v") == "text é"
    assert await shared.put_new("v", "other") is False
    assert await shared.put_new("fresh", "one") is True
    assert await shared.incr("c", 2, ttl=60) == 2
    assert await pair.second.incr("c", 3) == 5
    assert await shared.append("body", b"\x00\xffab") == 4
    assert await pair.second.append("body", b"cd") == 6
    assert await shared.read("body") == b"\x00\xffabcd"
    assert await shared.read("body", 2, 3) == b"ab"
    assert await shared.read("body", 4) == b"cd"
    assert await shared.length("body") == 6
    assert await shared.read("none") == b"" and await shared.length("none") == 0
    await shared.delete("v", "body")
    assert await shared.get("v") is None and await shared.length("body") == 0


async def test_a_value_with_a_time_to_live_goes(pair: Pair) -> None:
    await pair.first.put("short", "x", ttl=0.05)
    await pair.first.transact("short2", lambda old: (Write("y", ttl=0.05), None))
    assert await pair.second.get("short") == "x"

    async def both_gone() -> bool:
        return await pair.second.get("short") is None and await pair.second.get("short2") is None

    await until(both_gone, "both values gone after their time to live", 5)


async def test_a_closed_subscription_hears_nothing_more(pair: Pair) -> None:
    first: list[str] = []
    kept: list[str] = []
    sub = await pair.second.subscribe("ch", first.append)
    other = await pair.second.subscribe("ch", kept.append)
    await pair.first.publish("ch", "one")
    await until(holds(lambda: first == ["one"] and kept == ["one"]), "both handlers heard the first", 10)
    await sub.close()
    await pair.first.publish("ch", "two")
    await until(holds(lambda: kept == ["one", "two"]), "the open handler heard the second", 10)
    assert first == ["one"]
    await other.close()


async def test_an_unreachable_redis_is_said_within_a_second() -> None:
    shared = RedisShared.from_url("redis://127.0.0.1:9/0")  # the discard port: nothing listens
    with pytest.raises(SharedUnavailable, match="cannot be reached"):
        await shared.get("x")
    with pytest.raises(SharedUnavailable):
        await shared.transact("x", _count)
    await shared.close()


async def test_memory_values_nobody_reads_again_are_swept_once_expired() -> None:
    now = [1000.0]
    shared = MemoryShared(clock=lambda: now[0])
    for i in range(100):
        await shared.put(f"visitor:{i}", "x", ttl=5)
    await shared.put("kept", "y")
    now[0] += 60  # long past every time to live and the next sweep
    await shared.put("fresh", "z", ttl=5)
    assert sorted(shared._values) == ["fresh", "kept"]
