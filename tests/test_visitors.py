"""sessions.visitors: short ids, resuming, watch links (single use, short lived) and watches."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from world.apikeys import create_key
from world.harness import API_KEY, Cobrowse, Reply, StartCobrowse, cookies_from
from world.until import until

from proxy.keys import STORE
from proxy.visitor_book import VisitorBook
from proxy.visitors import VISITORS
from sessions.branding import Branding
from sessions.seed import SeedCookie
from sessions.shared import MemoryShared
from sessions.visitors import (
    ALPHABET,
    LINK_LIFETIME,
    SHORT_ID_LENGTH,
    Agent,
    LinkRefused,
    Visitor,
    VisitorLimits,
    Watch,
    normal_short_id,
    visitor_from,
    visitor_text,
    watch_from,
    watch_text,
)

NOW = 1_700_000_000.0
SITE = "https://shop.example"


def book(limits: VisitorLimits | None = None) -> VisitorBook:
    clock = NOW  # the shared state's own clock (times to live) starts with the tests' NOW
    return VisitorBook(MemoryShared(clock=lambda: clock), limits)


async def test_short_ids_are_readable_aloud_and_typed_loosely() -> None:
    registry = book()
    visitor, _ = await registry.register("pk1", SITE, SITE + "/", NOW)
    assert len(visitor.short_id) == SHORT_ID_LENGTH
    assert set(visitor.short_id) <= set(ALPHABET)
    assert not set("01OILUV") & set(ALPHABET)
    spoken = "-".join([visitor.short_id[:3].lower(), visitor.short_id[3:]])
    assert normal_short_id(spoken) == visitor.short_id
    assert await registry.get(spoken, NOW) == visitor


async def test_a_page_load_with_the_token_resumes_the_same_visitor() -> None:
    registry = book()
    first, token = await registry.register("pk1", SITE, SITE + "/", NOW)
    again, same = await registry.register("pk1", SITE, SITE + "/cart", NOW + 10, token)
    assert again.short_id == first.short_id and same == token and again.url == SITE + "/cart"
    assert (await registry.get(first.short_id, NOW + 10)) == again  # kept, not only handed out
    # Another site key (or origin) never resumes it: a new visitor.
    other, other_token = await registry.register("pk2", SITE, SITE + "/", NOW + 10, token)
    assert other.short_id != first.short_id and other_token != token


async def test_the_registry_forgets_idle_visitors() -> None:
    clock = [NOW]
    registry = VisitorBook(MemoryShared(clock=lambda: clock[0]), VisitorLimits(visitor_idle=100))
    made, token = await registry.register("pk", SITE, SITE, NOW)
    clock[0] = NOW + 60
    assert await registry.seen(made, NOW + 60) is not None  # seen: idle from now on
    clock[0] = NOW + 150
    assert await registry.by_token(token, NOW + 150) is not None
    clock[0] = NOW + 300
    assert await registry.get(made.short_id, NOW + 300) is None and await registry.by_token(token, NOW + 300) is None


def test_visitors_and_watches_round_trip_through_their_text() -> None:
    cookie = SeedCookie("sid", "s3", http_only=True, expires=NOW + 60, same_site="lax")
    visitor = Visitor("ABC234", "pk", SITE, "d", SITE, NOW, NOW, asked_by=["w1"], handoff=(cookie,))
    assert visitor_from(visitor_text(visitor)) == visitor
    watch = Watch("w1", "ABC234", Agent("a1", "Ann"), Branding(retry_url="https://help.example/"), NOW, True, "s1")
    assert watch_from(watch_text(watch)) == watch


async def test_a_watch_link_opens_once_and_asks_the_visitor() -> None:
    registry = book()
    visitor, _ = await registry.register("pk1", SITE, SITE, NOW)
    token, _ = await registry.issue_link(visitor, Agent("a1", "Ann"), Branding(), NOW)
    watch, secret = await registry.open_link(token, NOW + 1)
    visitor = await registry.get(visitor.short_id, NOW + 2) or visitor
    assert await registry.pending(visitor, NOW + 2) == watch and watch.agent.name == "Ann"
    assert await registry.watch(secret, NOW + 2) == watch
    with pytest.raises(LinkRefused) as used:
        await registry.open_link(token, NOW + 2)
    assert used.value.reason == "used"
    # The visitor accepts: the watch learns the session.
    moved = await registry.attach(visitor, "sess1", NOW + 3)
    assert [w.id for w in moved] == [watch.id] and moved[0].session_id == "sess1"
    assert (await registry.watch(secret, NOW + 3) or watch).session_id == "sess1"
    visitor = await registry.get(visitor.short_id, NOW + 3) or visitor
    assert await registry.pending(visitor, NOW + 3) is None


async def test_an_expired_link_is_refused_with_its_retry_url() -> None:
    registry = book()
    visitor, _ = await registry.register("pk1", SITE, SITE, NOW)
    token, link = await registry.issue_link(visitor, Agent(), Branding(retry_url="https://help.example/retry"), NOW)
    assert link.expires_at == NOW + LINK_LIFETIME
    with pytest.raises(LinkRefused) as expired:
        await registry.open_link(token, NOW + LINK_LIFETIME)
    assert expired.value.reason == "expired" and expired.value.branding.retry_url == "https://help.example/retry"
    with pytest.raises(LinkRefused) as unknown:
        await registry.open_link("not-a-token", NOW)
    assert unknown.value.reason == "unknown"


async def test_a_visitor_already_in_a_session_is_joined_without_asking() -> None:
    registry = book()
    visitor, _ = await registry.register("pk1", SITE, SITE, NOW)
    await registry.attach(visitor, "sess1", NOW)
    token, _ = await registry.issue_link(visitor, Agent(), Branding(), NOW)
    watch, _ = await registry.open_link(token, NOW)
    visitor = await registry.get(visitor.short_id, NOW) or visitor
    assert watch.session_id == "sess1" and await registry.pending(visitor, NOW) is None


async def test_declining_clears_the_question() -> None:
    registry = book()
    visitor, _ = await registry.register("pk1", SITE, SITE, NOW)
    token, _ = await registry.issue_link(visitor, Agent(), Branding(), NOW)
    await registry.open_link(token, NOW)
    await registry.decline(visitor)
    visitor = await registry.get(visitor.short_id, NOW) or visitor
    assert visitor.declined and await registry.pending(visitor, NOW) is None


# -- over HTTP: the snippet's endpoints (site key + Origin, CORS) and the API's watch links -------

SHOP = "http://shop.test"


@pytest.fixture
async def served(start_server: StartCobrowse, tmp_path: Path) -> tuple[Cobrowse, str]:
    server = await start_server(data_dir=str(tmp_path))
    return server, create_key(tmp_path, "shop", "--site", "--origin", SHOP)


async def _snippet(server: Cobrowse, action: str, body: dict[str, Any], origin: str = SHOP) -> Reply:
    return await server.request("POST", f"{server.control}/snippet/v1/{action}", cookies={},
                                headers={"Origin": origin, "Content-Type": "text/plain"},
                                data=json.dumps(body).encode())


async def test_the_snippet_registers_only_with_its_site_key_from_its_origins(served: tuple[Cobrowse, str]) -> None:
    server, key = served
    ok = await _snippet(server, "visitor", {"key": key, "url": SHOP + "/account"})
    assert ok.status == 200 and ok.header("Access-Control-Allow-Origin") == SHOP
    visitor = json.loads(ok.body)
    assert len(visitor["short_id"]) == SHORT_ID_LENGTH and visitor["session"] is False
    again = json.loads((await _snippet(server, "visitor", {"key": key, "token": visitor["token"],
                                                            "url": SHOP + "/"})).body)
    assert again["short_id"] == visitor["short_id"]
    # Another origin, the API key, no key: refused, and the answer carries no CORS grant.
    for origin, sent in (("http://evil.test", key), (SHOP, API_KEY), (SHOP, "")):
        refused = await _snippet(server, "visitor", {"key": sent, "url": SHOP + "/"}, origin)
        assert refused.status in (401, 403) and refused.header("Access-Control-Allow-Origin") is None
        assert "problem+json" in (refused.header("Content-Type") or "")
    assert (await server.request("GET", f"{server.control}/snippet.js", cookies={})).status == 200


async def test_a_watch_url_from_the_api_asks_the_visitor_and_enters_the_agent_as_leader(
        served: tuple[Cobrowse, str]) -> None:
    server, key = served
    visitor = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/account"})).body)
    short = visitor["short_id"]
    assert (await server.api("POST", f"/api/v1/visitors/{short}/watch_url", {})).status == 201
    refused = await server.api("POST", f"/api/v1/visitors/{short}/watch_url", {}, key=key)
    assert refused.status == 401  # a site key is never an API key
    assert (await server.api("POST", "/api/v1/visitors/ZZZZZZ/watch_url", {})).status == 404
    made = await server.api("POST", f"/api/v1/visitors/{short.lower()}/watch_url",
                            {"agent": {"id": "a1", "name": "Ann"}})
    watch_url = json.loads(made.body)["watch_url"]

    opened = await server.request("GET", watch_url, cookies={})
    assert opened.status == 303 and opened.header("Location") == "/watch"
    agent = cookies_from(opened.headers)
    assert (await server.request("GET", watch_url, cookies={})).status == 410  # single use
    polled = json.loads((await _snippet(server, "poll", {"key": key, "token": visitor["token"]})).body)
    assert polled["request"] == {"agent": "Ann"}

    started = await _snippet(server, "start", {
        "key": key, "token": visitor["token"], "url": SHOP + "/account",
        "cookies": "lang=nb", "storage": {"local": {"cart": "3 apples"}, "session": {}},
        "form": {"url": SHOP + "/account", "fields": [{"name": "street", "value": "Storgata 1"}]}})
    assert started.status == 200, started.text
    state = json.loads((await server.request("GET", f"{server.control}/watch/state", cookies=agent)).body)
    assert state["state"] == "ready"
    entered = await server.request("GET", state["enter_url"], cookies={})
    assert entered.status == 302
    sid = state["enter_url"].split("/enter/", 1)[1].split("?", 1)[0]
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{sid}")).body)
    roles = {p["name"]: p["role"] for p in session["participants"]}
    assert roles == {"Ann": "leader", f"Visitor {short}": "follower"}
    visitor_id = next(p["id"] for p in session["participants"] if p["role"] == "follower")
    assert session["controller"] == visitor_id  # the visitor drives
    stored = await server.runner.app[STORE].get(sid)
    assert stored is not None and stored.api_key_id == "default"  # the key that asked for the watch link


async def test_an_expired_watch_link_sends_the_agent_to_its_retry_url(served: tuple[Cobrowse, str]) -> None:
    server, key = served
    visitor = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/"})).body)
    made = await server.api("POST", f"/api/v1/visitors/{visitor['short_id']}/watch_url",
                            {"branding": {"retry_url": "https://help.example/again"}})
    watch_url = json.loads(made.body)["watch_url"]
    assert (await server.request("GET", watch_url, cookies={})).status == 303
    used = await server.request("GET", watch_url, cookies={})
    assert used.status == 303 and used.header("Location") == "https://help.example/again"
    bad = await server.api("POST", f"/api/v1/visitors/{visitor['short_id']}/watch_url",
                           {"branding": {"colour": "red"}})
    assert bad.status == 400 and "colour" in json.loads(bad.body)["detail"]


async def test_the_continuation_hands_httponly_cookies_to_the_visitors_session(
        served: tuple[Cobrowse, str]) -> None:
    server, key = served
    visitor = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/"})).body)
    handed = await server.api("POST", "/api/v1/visitors/continuation", {
        "visitor_token": visitor["token"], "cookies": [{"name": "shop_sid", "value": "s3", "httpOnly": True}]})
    assert handed.status == 200 and json.loads(handed.body) == {"cookies": 1}
    assert (await server.api("POST", "/api/v1/visitors/continuation",
                             {"visitor_token": "nope", "cookies": []})).status == 404
    started = json.loads((await _snippet(server, "start", {"key": key, "token": visitor["token"],
                                                           "url": SHOP + "/", "cookies": "lang=nb"})).body)
    sid = started["enter_url"].split("/enter/", 1)[1].split("?", 1)[0]
    header = await server.runner.app[STORE].with_jar(
        sid, lambda jar: jar.cookie_header(SHOP + "/", time.time(), context="same-site"))
    assert header is not None and set(header.split("; ")) == {"lang=nb", "shop_sid=s3"}


async def test_a_watch_link_joins_a_session_the_visitor_started_alone_under_the_agents_name(
        served: tuple[Cobrowse, str]) -> None:
    server, key = served
    visitor = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/"})).body)
    started = json.loads((await _snippet(server, "start", {"key": key, "token": visitor["token"],
                                                           "url": SHOP + "/"})).body)
    sid = started["enter_url"].split("/enter/", 1)[1].split("?", 1)[0]
    made = await server.api("POST", f"/api/v1/visitors/{visitor['short_id']}/watch_url",
                            {"agent": {"id": "a7", "name": "Ann"}})
    agent = cookies_from((await server.request("GET", json.loads(made.body)["watch_url"], cookies={})).headers)
    state = json.loads((await server.request("GET", f"{server.control}/watch/state", cookies=agent)).body)
    assert state["state"] == "ready" and f"/enter/{sid}?" in state["enter_url"]
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{sid}")).body)
    leader = next(p for p in session["participants"] if p["role"] == "leader")
    assert leader["name"] == "Ann"
    # A second start while the session is live is refused: one session per visitor.
    again = await _snippet(server, "start", {"key": key, "token": visitor["token"], "url": SHOP + "/"})
    assert again.status == 409


async def test_held_long_polls_are_answered_when_the_server_stops(served: tuple[Cobrowse, str]) -> None:
    server, key = served
    server.runner.app[VISITORS].poll_seconds = 3600.0  # a poll not woken would hold the test up
    watched = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/"})).body)
    idle = json.loads((await _snippet(server, "visitor", {"key": key, "url": SHOP + "/"})).body)
    made = await server.api("POST", f"/api/v1/visitors/{watched['short_id']}/watch_url", {})
    agent = cookies_from((await server.request("GET", json.loads(made.body)["watch_url"], cookies={})).headers)
    # The agent waits for the watched visitor's answer; the idle visitor's snippet waits for a request.
    polls = [asyncio.create_task(server.request("GET", f"{server.control}/watch/state", cookies=agent)),
             asyncio.create_task(_snippet(server, "poll", {"key": key, "token": idle["token"]}))]

    async def both_held() -> bool:
        return server.runner.app[VISITORS].held() == 2

    await until(both_held, "both polls held")
    await server.runner.shutdown()
    answers = await asyncio.wait_for(asyncio.gather(*polls), 60)
    assert [a.status for a in answers] == [200, 200]
    assert json.loads(answers[0].body) == {"state": "waiting"}
    assert json.loads(answers[1].body) == {"request": None, "session": False}
