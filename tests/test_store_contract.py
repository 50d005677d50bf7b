"""The session store's contract (``sessions.store.SessionStore``), one suite for every backend.

Each backend in ``BACKENDS`` must: hand back what was added; apply ``update`` and answer None for
an unknown session; page ``list`` newest first with filters and a cursor; keep the idempotency
ledger's claim, settle and release rules; and ``purge`` exactly the sessions that ended before
the cutoff, with their jars. ``update`` and ``with_jar`` lose no change to a concurrent one, and a
session handed out or handed in is a copy: changing it outside ``update`` changes nothing stored.
A backend joins by adding its factory here (Redis: a real server, ``conftest.redis_url``, one
namespace per test).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from proxy.redis_store import RedisStore
from sessions.cookies import CookieJar
from sessions.idempotency import Outcome, fingerprint
from sessions.listing import SessionQuery, decode_cursor
from sessions.model import Participant, Session
from sessions.store import MemoryStore, SessionStore


def _redis(request: pytest.FixtureRequest) -> SessionStore:
    url = request.getfixturevalue("redis_url")
    return RedisStore.from_url(url, namespace=f"cobrowse-test-{uuid.uuid4().hex}:", forget_on_close=True)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], SessionStore]] = {
    "memory": lambda request: MemoryStore(), "redis": _redis}
NOW = 10_000.0
URL = "https://example.com/"


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    made = BACKENDS[request.param](request)
    yield made
    await made.close()


def _session(sid: str, created: float, agent: str = "a1", ended_at: float | None = None,
             lifetime: float = 3600.0) -> Session:
    leader = Participant("p-" + sid, "leader", "Ann", created, agent)
    return Session(id=sid, target_url=URL, created_at=created, expires_at=created + lifetime,
                   leader_id=leader.id, participants={leader.id: leader}, controller=leader.id, ended_at=ended_at)


async def test_added_sessions_come_back_and_update_changes_them(store: SessionStore) -> None:
    await store.add(_session("s1", NOW))
    assert (await store.get("s1")) is not None and await store.get("nope") is None

    def rename(session: Session) -> str:
        session.controller = "someone"
        return "done"

    assert await store.update("s1", rename) == "done"
    assert await store.update("nope", rename) is None
    got = await store.get("s1")
    assert got is not None and got.controller == "someone"


async def test_list_pages_newest_first_with_filters_and_a_cursor(store: SessionStore) -> None:
    for n in range(5):
        await store.add(_session(f"s{n}", NOW + n, agent="a1" if n % 2 else "a2",
                                 ended_at=NOW + 10 if n == 4 else None))
    first = await store.list(SessionQuery(limit=2), NOW + 20)
    assert [s.id for s in first.sessions] == ["s4", "s3"] and first.next_cursor is not None
    rest = await store.list(SessionQuery(limit=10, below=decode_cursor(first.next_cursor)), NOW + 20)
    assert [s.id for s in rest.sessions] == ["s2", "s1", "s0"] and rest.next_cursor is None
    live = await store.list(SessionQuery(status="live", agent="a2"), NOW + 20)
    assert [s.id for s in live.sessions] == ["s2", "s0"]
    window = await store.list(SessionQuery(created_after=NOW + 0.5, created_before=NOW + 3), NOW + 20)
    assert [s.id for s in window.sessions] == ["s2", "s1"]


async def test_idempotency_claims_settle_replay_clash_and_release(store: SessionStore) -> None:
    body = fingerprint({"url": "https://example.com/"})
    assert (await store.claim_idempotency("k", body, NOW)).outcome is Outcome.NEW
    assert (await store.claim_idempotency("k", body, NOW)).outcome is Outcome.PENDING
    await store.settle_idempotency("k", '{"id": "s1"}', NOW)
    replay = await store.claim_idempotency("k", body, NOW + 1)
    assert replay.outcome is Outcome.REPLAY and replay.body == '{"id": "s1"}'
    clash = await store.claim_idempotency("k", fingerprint({"url": "https://example.org/"}), NOW + 1)
    assert clash.outcome is Outcome.CLASH and clash.differing == ("url",)
    assert (await store.claim_idempotency("other", body, NOW)).outcome is Outcome.NEW
    await store.release_idempotency("other")
    assert (await store.claim_idempotency("other", body, NOW)).outcome is Outcome.NEW
    await store.release_idempotency("k")  # a settled claim stays
    assert (await store.claim_idempotency("k", body, NOW + 2)).outcome is Outcome.REPLAY


async def test_purge_drops_exactly_the_sessions_ended_before_the_cutoff_and_their_jars(
        store: SessionStore) -> None:
    await store.add(_session("old", NOW, ended_at=NOW + 1))
    await store.add(_session("new", NOW, ended_at=NOW + 50))
    await store.add(_session("live", NOW))
    assert await store.with_jar("old", lambda jar: jar.set_from_header("https://example.com/", "a=b", NOW))
    assert await store.with_jar("old", lambda jar: jar.cookie_header(URL, NOW, context="same-site")) == "a=b"
    assert await store.purge(NOW + 10, NOW + 100) == ("old",)
    assert await store.get("old") is None and await store.get("new") is not None
    assert await store.get("live") is not None
    # A purged session's jar is gone: using it again starts from an empty jar.
    assert await store.with_jar("old", lambda jar: jar.cookie_header(URL, NOW, context="same-site")) is None


async def test_concurrent_updates_lose_no_change(store: SessionStore) -> None:
    await store.add(_session("s1", NOW))

    def bump(session: Session) -> int:
        session.options = replace(session.options, max_followers=(session.options.max_followers or 0) + 1)
        return session.options.max_followers or 0

    async def hundred() -> None:
        for _ in range(100):
            await store.update("s1", bump)
            await asyncio.sleep(0)

    await asyncio.gather(hundred(), hundred())
    got = await store.get("s1")
    assert got is not None and got.options.max_followers == 200


async def test_concurrent_jar_changes_lose_no_cookie(store: SessionStore) -> None:
    await store.add(_session("s1", NOW))

    async def set_cookies(prefix: str) -> None:
        for n in range(25):
            header = f"{prefix}{n}=v"
            assert await store.with_jar("s1", lambda jar, h=header: jar.set_from_header(URL, h, NOW))
            await asyncio.sleep(0)

    await asyncio.gather(set_cookies("a"), set_cookies("b"))
    names = await store.with_jar("s1", lambda jar: sorted(c.name for c in jar))
    assert names == sorted([f"a{n}" for n in range(25)] + [f"b{n}" for n in range(25)])


async def test_a_session_handed_in_or_out_is_a_copy(store: SessionStore) -> None:
    added = _session("s1", NOW)
    await store.add(added)
    added.controller = "mutated after add"
    added.participants["p-s1"].name = "Changed"
    added.reached_origins.add("https://elsewhere.example")
    got = await store.get("s1")
    assert got is not None and got.controller == "p-s1" and got.participants["p-s1"].name == "Ann"
    assert got.reached_origins == set()
    got.controller = "mutated after get"
    got.participants.clear()
    again = await store.get("s1")
    assert again is not None and again.controller == "p-s1" and list(again.participants) == ["p-s1"]

    kept: list[Session] = []
    await store.update("s1", kept.append)
    kept[0].controller = "mutated after update"
    last = await store.get("s1")
    assert last is not None and last.controller == "p-s1"


async def test_a_jar_lives_beside_its_session_and_starts_empty(store: SessionStore) -> None:
    await store.add(_session("s1", NOW))
    assert await store.with_jar("s1", len) == 0
    assert await store.with_jar("s1", lambda jar: jar.set_from_header(URL, "k=v; HttpOnly", NOW))
    assert await store.with_jar("s1", lambda jar: jar.cookie_header(URL, NOW, context="same-site")) == "k=v"
    assert await store.with_jar("s1", lambda jar: jar.document_cookie(URL, NOW)) == ""
    await store.drop_jar("s1")
    assert await store.with_jar("s1", lambda jar: isinstance(jar, CookieJar) and len(jar) == 0)


async def test_paging_a_filtered_listing_returns_each_match_once_in_order(store: SessionStore) -> None:
    for n in range(450):  # more than one batch of the Redis backend's index walk
        await store.add(_session(f"s{n:03d}", NOW + n // 2, agent="a1" if n % 3 == 0 else "a2"))
    seen: list[str] = []
    cursor = None
    while True:
        query = SessionQuery(agent="a1", limit=40, below=None if cursor is None else decode_cursor(cursor))
        got = await store.list(query, NOW)
        seen += [s.id for s in got.sessions]
        cursor = got.next_cursor
        if cursor is None:
            break
    expected = sorted((f"s{n:03d}" for n in range(0, 450, 3)), key=lambda sid: (NOW + int(sid[1:]) // 2, sid),
                      reverse=True)
    assert seen == expected
