"""The session store's contract (``sessions.store.SessionStore``), one suite for every backend.

Each backend in ``BACKENDS`` must: hand back what was added; apply ``update`` and answer None for
an unknown session; page ``list`` newest first with filters and a cursor; keep the idempotency
ledger's claim, settle and release rules; and ``purge`` exactly the sessions that ended before
the cutoff, with their jars. A new backend (Redis) joins by adding its factory here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from sessions.idempotency import Outcome, fingerprint
from sessions.listing import SessionQuery, decode_cursor
from sessions.model import Participant, Session
from sessions.store import MemoryStore, SessionStore

BACKENDS: dict[str, Callable[[], SessionStore]] = {"memory": MemoryStore}
NOW = 10_000.0
URL = "https://example.com/"


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    made = BACKENDS[request.param]()
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
