"""The sessions resource of the REST API (``proxy.api_sessions``): every create option kept and
described, strict refusals naming the field, idempotent creation, and the listing's filters and
cursor pagination (``sessions.listing``), through a running server and as a pure core."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from world.apikeys import create_key
from world.harness import API_KEY, Cobrowse, Reply, StartCobrowse

from proxy.keys import STORE
from sessions.idempotency import Ledger, Outcome, fingerprint
from sessions.listing import SessionQuery, decode_cursor, encode_cursor, page, parse_query
from sessions.model import Participant, Session
from sessions.store import MemoryStore

URL = "https://example.com/start"
EVERY_OPTION: dict[str, Any] = {
    "allow_domains": ["example.com"], "deny_domains": ["admin.example.com"], "max_followers": 2,
    "expires_in": 600, "idle_timeout": 120, "end_redirect_url": "https://example.com/thanks",
    "require_approval": True, "view_only": True, "consent": False, "mask_selectors": ["#ssn"],
    "hide_selectors": [".secret"], "branding": {"naked": True, "no_bottom_bar": True,
                                                 "retry_url": "https://example.com/help"},
}


async def post(server: Cobrowse, body: Any, key: str | None = None, token: str = API_KEY) -> Reply:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await server.request("POST", f"{server.control}/api/v1/sessions", headers=headers, json=body,
                                cookies={})


async def listing(server: Cobrowse, query: str) -> dict[str, Any]:
    reply = await server.api("GET", f"/api/v1/sessions?{query}")
    assert reply.status == 200, reply.text
    found: dict[str, Any] = json.loads(reply.body)
    return found


async def test_create_keeps_every_option_the_agent_and_metadata_and_describes_them(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    reply = await post(server, {"url": URL, "agent": {"id": "a-7", "name": "Ann"}, "options": EVERY_OPTION,
                                "metadata": {"ticket": "T-1234", "team": "billing"}})
    assert reply.status == 201, reply.text
    created = json.loads(reply.body)
    described = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    for body in (created, described):
        assert {name: body["options"][name] for name in EVERY_OPTION} == EVERY_OPTION
        assert body["agent"] == {"id": "a-7", "name": "Ann"}
        assert body["metadata"] == {"ticket": "T-1234", "team": "billing"}
        assert body["status"] == "live" and body["ended_reason"] is None and body["ended_at"] is None
        assert body["participants"] == [{"id": body["controller"], "role": "leader", "name": "Ann",
                                         "status": "active", "joined_at": body["created_at"]}]
    # expires_in sets the lifetime: ten minutes after creation, not the server's default.
    from datetime import datetime
    lived = (datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(created["created_at"]))
    assert lived.total_seconds() == pytest.approx(600, abs=1)
    # Unset ones are the server's, written in: the session keeps what it was made with.
    plain = json.loads((await post(server, {"url": URL})).body)["options"]
    assert (plain["expires_in"], plain["idle_timeout"], plain["max_followers"]) == (7200, 1800, 10)


@pytest.mark.parametrize(("body", "words"), [
    ({"url": URL, "colour": "red"}, "unknown field(s) 'colour'"),
    ({"url": URL, "agent": {"id": "a", "role": "x"}}, '"agent" must be an object with "id" and "name"'),
    ({"url": URL, "agent": {"name": ["Ann"]}}, '"agent.name" must be a string'),
    ({"url": URL, "options": {"max_followers": 0}}, '"options.max_followers" is 0'),
    ({"url": URL, "options": {"max_followers": 11}}, "between 1 and 10"),
    ({"url": URL, "options": {"max_followers": "3"}}, '"options.max_followers" must be a whole number'),
    ({"url": URL, "options": {"expires_in": 10}}, '"options.expires_in" is 10'),
    ({"url": URL, "options": {"expires_in": 10 ** 9}}, "between 60 and 86400 seconds"),
    ({"url": URL, "options": {"expires_in": 90.5}}, "whole number of seconds"),
    ({"url": URL, "options": {"idle_timeout": 5}}, "(or 0: the session never idles out)"),
    ({"url": URL, "options": {"require_approval": "yes"}}, '"options.require_approval" must be true or false'),
    ({"url": URL, "options": {"end_redirect_url": "javascript:alert(1)"}}, '"options.end_redirect_url" must be'),
    ({"url": URL, "end_redirect_url": "https://a.test/x\r\nSet-Cookie: a=b"}, '"end_redirect_url" must not'),
    ({"url": URL, "end_redirect_url": "https://a.test/", "options": {"end_redirect_url": "https://b.test/"}},
     "give one of them"),
    ({"url": URL, "options": {"branding": {"naked": True, "logo": "x"}}},
     "\"options.branding\" has unknown field(s) 'logo'"),
    ({"url": URL, "options": {"branding": {"no_bottom_bar": 1}}}, '"options.branding.no_bottom_bar" must be'),
    ({"url": URL, "options": {"branding": {"retry_url": "/relative"}}}, '"options.branding.retry_url" must be'),
    ({"url": URL, "options": {"branding": "naked"}}, '"options.branding" must be an object'),
    ({"url": URL, "metadata": {"n": 1}}, '"metadata.n" must be a string'),
    ({"url": URL, "metadata": {"deep": {"x": "y"}}}, '"metadata.deep" must be a string'),
    ({"url": URL, "metadata": {"bad key!": "v"}}, '"metadata" key'),
    ({"url": URL, "metadata": {f"k{i}": "v" for i in range(51)}}, "at most 50 are allowed"),
    ({"url": URL, "metadata": {"k": "v" * 501}}, '"metadata.k" is longer than 500'),
    ({"url": URL, "metadata": {f"k{i}": "v" * 400 for i in range(25)}}, "at most 8192 are allowed"),
    ({"url": URL, "metadata": {"a": "b"}, "options": {"metadata": {"a": "b"}}}, "give one of them"),
    ({"url": URL, "options": {"metadata": ["a"]}}, '"options.metadata" must be an object'),
])
async def test_create_refuses_bad_options_with_a_problem_naming_the_field(
        start_server: StartCobrowse, body: dict[str, Any], words: str) -> None:
    server = await start_server()
    reply = await post(server, body)
    assert reply.status == 400, reply.text
    assert (reply.header("Content-Type") or "").startswith("application/problem+json")
    assert words in json.loads(reply.body)["detail"], reply.text
    assert (await listing(server, ""))["sessions"] == []  # nothing was made


async def test_create_seeds_the_session_with_the_visitors_cookies_through_the_seed_hook(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    refused = await post(server, {"url": URL, "options": {"cookies": [{"name": "a;b"}]}})
    assert refused.status == 400 and '"options.cookies[0]' in json.loads(refused.body)["detail"]
    reply = await post(server, {"url": URL, "options": {
        "view_only": True, "cookies": [{"name": "sid", "value": "s3cret", "httpOnly": True}]}})
    assert reply.status == 201, reply.text
    created = json.loads(reply.body)
    assert "cookies" not in created["options"] and "s3cret" not in reply.text  # seeds are not described
    header = await server.runner.app[STORE].with_jar(
        created["id"], lambda jar: jar.cookie_header(URL, time.time(), context="same-site"))
    assert header == "sid=s3cret"


async def test_same_idempotency_key_answers_the_first_201_and_makes_no_second_session(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    body = {"url": URL, "agent": {"id": "a1", "name": "Ann"}, "options": {"view_only": True}}
    first = await post(server, body, key="order-42")
    assert first.status == 201 and first.header("Idempotent-Replayed") is None
    # Same body, other key order and spacing: the same request.
    again = await post(server, {"options": {"view_only": True}, "agent": {"name": "Ann", "id": "a1"}, "url": URL},
                       key="order-42")
    assert again.status == 201 and again.header("Idempotent-Replayed") == "true"
    assert json.loads(again.body) == json.loads(first.body)  # same session, same links
    assert again.header("Location") == first.header("Location")
    assert [s["id"] for s in (await listing(server, ""))["sessions"]] == [json.loads(first.body)["id"]]

    clash = await post(server, {**body, "url": "https://example.com/other"}, key="order-42")
    assert clash.status == 422 and (clash.header("Content-Type") or "").startswith("application/problem+json")
    assert "fields that differ: url" in json.loads(clash.body)["detail"]
    other = await post(server, body, key="order-43")
    assert other.status == 201 and json.loads(other.body)["id"] != json.loads(first.body)["id"]
    for bad in ("", "x" * 256, "caf\u00e9"):
        refused = await server.request("POST", f"{server.control}/api/v1/sessions", cookies={}, json=body,
                                       headers={"Authorization": f"Bearer {API_KEY}",
                                                "Idempotency-Key": bad.encode().decode("latin-1")})
        assert refused.status == 400 and "Idempotency-Key" in json.loads(refused.body)["detail"]


async def test_a_refused_create_does_not_use_up_its_idempotency_key(start_server: StartCobrowse) -> None:
    server = await start_server()
    refused = await post(server, {"url": "ftp://example.com/"}, key="k1")
    assert refused.status == 400
    fixed = await post(server, {"url": "ftp://example.com/"}, key="k1")
    assert fixed.status == 400  # tried again, not a replay of a failure nor a clash
    made = await post(server, {"url": URL}, key="k1")
    assert made.status == 201


async def test_concurrent_creates_with_one_key_make_one_session(start_server: StartCobrowse) -> None:
    server = await start_server()
    replies = await asyncio.gather(*(post(server, {"url": URL}, key="burst") for _ in range(8)))
    made = [json.loads(r.body) for r in replies if r.status == 201]
    assert made and all(r.status in (201, 409) for r in replies), [r.status for r in replies]
    assert all(body == made[0] for body in made)
    assert len((await listing(server, ""))["sessions"]) == 1


async def test_idempotency_keys_belong_to_the_api_key_that_sent_them(
        start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(data_dir=str(tmp_path), audit=False)
    other = create_key(tmp_path, "helpdesk", "--scope", "sessions:write", "--scope", "sessions:read")
    mine = await post(server, {"url": URL}, key="same")
    theirs = await post(server, {"url": "https://example.com/theirs"}, key="same", token=other)
    assert mine.status == 201 and theirs.status == 201, theirs.text
    assert json.loads(mine.body)["id"] != json.loads(theirs.body)["id"]


async def test_list_filters_by_status_agent_and_creation_time(start_server: StartCobrowse) -> None:
    server = await start_server()
    ids: dict[str, str] = {}
    for name, agent in (("a1-old", "a1"), ("a2", "a2"), ("a1-new", "a1")):
        reply = await post(server, {"url": URL, "agent": {"id": agent, "name": name}})
        ids[name] = json.loads(reply.body)["id"]
    assert (await server.api("DELETE", f"/api/v1/sessions/{ids['a2']}")).status == 200

    every = (await listing(server, ""))["sessions"]
    assert [s["id"] for s in every] == [ids["a1-new"], ids["a2"], ids["a1-old"]]  # newest first
    assert [s["id"] for s in (await listing(server, "status=ended"))["sessions"]] == [ids["a2"]]
    ended = (await listing(server, "status=ended"))["sessions"][0]
    assert ended["status"] == "ended" and ended["ended_reason"] == "api" and ended["ended_at"]
    assert [s["id"] for s in (await listing(server, "status=live&agent=a1"))["sessions"]] == [
        ids["a1-new"], ids["a1-old"]]
    middle = next(s for s in every if s["id"] == ids["a2"])["created_at"]
    after = (await listing(server, f"created_after={middle}"))["sessions"]
    before = (await listing(server, f"created_before={middle}"))["sessions"]
    assert [s["id"] for s in after] == [ids["a1-new"]] and [s["id"] for s in before] == [ids["a1-old"]]
    for bad, words in [("status=open", '"status" must be one of live, ended'), ("limit=0", '"limit" must be'),
                       ("limit=201", '"limit" must be'), ("limit=ten", '"limit" must be'),
                       ("created_after=yesterday", '"created_after" must be an ISO 8601'),
                       ("cursor=%21%21", '"cursor" is not a cursor'), ("colour=red", "unknown parameter(s) 'colour'"),
                       ("agent=", '"agent" must be')]:
        reply = await server.api("GET", f"/api/v1/sessions?{bad}")
        assert reply.status == 400 and words in json.loads(reply.body)["detail"], (bad, reply.text)


async def test_pages_return_every_session_once_while_others_are_created(start_server: StartCobrowse) -> None:
    server = await start_server()
    before = [json.loads((await post(server, {"url": URL})).body)["id"] for _ in range(23)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        # Creates land between (and during) page requests.
        more, got = await asyncio.gather(post(server, {"url": URL}), listing(server, f"limit=5{cursor}"))
        assert more.status == 201
        seen += [s["id"] for s in got["sessions"]]
        pages += 1
        if got["next_cursor"] is None:
            break
        cursor = f"&cursor={got['next_cursor']}"
    assert len(seen) == len(set(seen)), "a session came twice"
    assert set(before) <= set(seen), "a session that existed throughout was skipped"
    assert pages >= 5


def _session(sid: str, created_at: float, agent: str = "a") -> Session:
    leader = Participant("p" + sid, "leader", "Ann", created_at, agent)
    return Session(id=sid, target_url=URL, created_at=created_at, expires_at=created_at + 7200,
                   leader_id=leader.id, participants={leader.id: leader}, controller=leader.id)


@settings(max_examples=150, deadline=None)
@given(times=st.lists(st.integers(0, 6), min_size=0, max_size=40), limit=st.integers(1, 9),
       inserted=st.lists(st.integers(0, 8), max_size=10))
async def test_pagination_returns_every_session_exactly_once_property(
        times: list[int], limit: int, inserted: list[int]) -> None:
    """Keyset pages (ties on created_at included) cover every session that existed throughout
    exactly once, whatever is created between pages."""
    store = MemoryStore()
    for n, at in enumerate(times):
        await store.add(_session(f"s{n:04d}", 1000.0 + at))
    seen: list[str] = []
    below = None
    extra = iter(inserted)
    for _ in range(len(times) + len(inserted) + 2):
        got = await store.list(SessionQuery(limit=limit, below=below), 1000.0)
        seen += [s.id for s in got.sessions]
        at = next(extra, None)
        if at is not None:
            await store.add(_session(f"new{len(seen):04d}{at}", 1000.0 + at))
        if got.next_cursor is None:
            break
        below = decode_cursor(got.next_cursor)
    assert len(seen) == len(set(seen))
    assert {f"s{n:04d}" for n in range(len(times))} <= set(seen)


def test_cursor_round_trips_and_query_parsing_is_strict() -> None:
    assert decode_cursor(encode_cursor((1712345678.123456, "abcdefghij"))) == (1712345678.123456, "abcdefghij")
    for bad in ("", "e30", encode_cursor((1.0, "x"))[:-2], "W3RydWUsImEiXQ"):
        with pytest.raises(ValueError, match='"cursor"'):
            decode_cursor(bad)
    query = parse_query({"status": "live", "agent": "a1", "created_after": "2026-01-01T00:00:00Z",
                         "created_before": "2026-01-02T00:00:00+01:00", "limit": "7"})
    assert query == SessionQuery("live", "a1", 1767225600.0, 1767308400.0, 7, None)


def test_a_page_ends_without_a_cursor_exactly_when_nothing_is_left() -> None:
    sessions = [_session(f"s{n}", float(n)) for n in range(4)]
    full = page(SessionQuery(limit=4), sessions, 0.0)
    assert [s.id for s in full.sessions] == ["s3", "s2", "s1", "s0"] and full.next_cursor is None
    first = page(SessionQuery(limit=3), sessions, 0.0)
    assert first.next_cursor is not None
    rest = page(SessionQuery(limit=3, below=decode_cursor(first.next_cursor)), sessions, 0.0)
    assert [s.id for s in rest.sessions] == ["s0"] and rest.next_cursor is None


def test_idempotency_ledger_replays_clashes_expires_and_stays_bounded() -> None:
    ledger = Ledger(capacity=3, ttl=100.0, pending_ttl=5.0)
    one = fingerprint({"url": "a", "agent": {"id": "1"}})
    assert ledger.claim("k", one, 0.0).outcome is Outcome.NEW
    assert ledger.claim("k", one, 1.0).outcome is Outcome.PENDING
    ledger.settle("k", '{"id": "s"}', 2.0)
    assert ledger.claim("k", one, 50.0) == ledger.claim("k", one, 50.0)
    assert ledger.claim("k", one, 50.0).body == '{"id": "s"}'
    clash = ledger.claim("k", fingerprint({"url": "b", "agent": {"id": "1"}, "options": {}}), 51.0)
    assert clash.outcome is Outcome.CLASH and clash.differing == ("options", "url")
    assert ledger.claim("k", one, 103.0).outcome is Outcome.NEW  # a day (here 100 s) later: forgotten
    assert ledger.claim("abandoned", one, 0.0).outcome is Outcome.NEW
    assert ledger.claim("abandoned", one, 6.0).outcome is Outcome.NEW  # never settled: given up
    for n in range(10):
        ledger.claim(f"more{n}", one, 7.0)
    assert len(ledger) == 3
