"""Webhooks (issue 9 item 3) on a real server with a real receiver on loopback.

A session is driven the way participants drive it (the agent's link, a visitor joining through
the join form, sync sockets handing control over and back, the visitor leaving, the agent
ending it through the API); the receiver verifies every signature and answers the first two
deliveries 500. It must see every event once, in order, after the retries; the deliveries API
must show those attempts. Also: a key sees only its own webhooks and gets only its own sessions'
events; URLs the SSRF guard refuses are refused at creation; a full queue is a counted drop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from world.apikeys import create_key
from world.canary import Canary, fresh_loopback
from world.harness import API_KEY, Cobrowse, start_cobrowse, stop_cobrowse
from world.sync_client import connect, expect, hello, join, send, start_session
from world.targets import serve
from world.until import until
from world.webhook_receiver import Receiver, start_receiver

from proxy import presence, webhook_delivery
from proxy.keys import HOOKS
from proxy.upstream import UpstreamClient, UpstreamSettings
from sessions.integration_events import Event
from sessions.shared import MemoryShared
from sessions.webhook_state import Attempt, Limits, SharedWebhookStore, Webhook

FAST = dataclasses.replace(webhook_delivery.DEFAULTS, first_delay=0.05, max_delay=0.2)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_delivery, "DEFAULTS", FAST)
    monkeypatch.setattr(presence, "LEAVE_GRACE", 0.2)


async def add_webhook(server: Cobrowse, receiver: Receiver, key: str = API_KEY, **fields: Any) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/webhooks", {"url": receiver.url, **fields}, key=key)
    assert reply.status == 201, reply.text
    made: dict[str, Any] = json.loads(reply.body)
    receiver.secret = made["secret"]
    return made


async def test_a_receiver_that_fails_twice_sees_every_event_once_in_order_signed(fast_retries: None) -> None:
    server = await start_cobrowse()
    receiver = await start_receiver(fail_first=2)
    try:
        hook = await add_webhook(server, receiver, description="helpdesk")
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["*"]
        created, leader = await start_session(server)
        visitor = await join(server, created, "Vic")
        leader_ws, visitor_ws = await connect(server, created, leader), await connect(server, created, visitor)
        await hello(leader_ws, leader, "p1")
        await hello(visitor_ws, visitor, "p2")
        await send(leader_ws, leader, "control", action="grant", to=visitor.id)
        await expect(visitor_ws, "control", controller=visitor.id)
        await send(visitor_ws, visitor, "control", action="grant", to=leader.id)
        await expect(leader_ws, "control", controller=leader.id)
        await visitor_ws.close()
        await receiver.wait_for(lambda e: e["type"] == "participant.left", "the visitor's leaving")
        assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
        await receiver.wait_for(lambda e: e["type"] == "session.ended", "the session's end")
        await leader_ws.close()
        listed = json.loads((await server.api("GET", f"/api/v1/webhooks/{hook['id']}/deliveries")).body)
    finally:
        await stop_cobrowse(server)
        await receiver.close()

    got = [(e["type"], (e["data"].get("participant") or e["data"].get("controller") or {}).get("id"))
           for e in receiver.accepted]
    assert got == [
        ("session.created", None),
        ("participant.joined", leader.id),
        ("participant.joined", visitor.id),
        ("control.changed", visitor.id),
        ("control.changed", leader.id),
        ("participant.left", visitor.id),
        ("session.ended", None),
    ], got
    ids = [e["id"] for e in receiver.accepted]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["session_id"] == created["id"] for e in receiver.accepted)
    assert receiver.accepted[0]["data"]["agent"] == {"id": "a1", "name": "Ann"}
    assert receiver.accepted[2]["data"]["participant"] == {"id": visitor.id, "role": "follower", "name": "Vic"}
    assert receiver.accepted[3]["data"]["action"] == "granted" and receiver.accepted[4]["data"]["action"] == "returned"
    assert receiver.accepted[-1]["data"] == {"reason": "api"}
    # the first event was tried three times (500, 500, 200), the same event each time, signed each time
    first = [(r.event_id, r.attempt, r.answered) for r in receiver.requests[:3]]
    assert first == [(ids[0], 1, 500), (ids[0], 2, 500), (ids[0], 3, 200)]
    assert all(r.verified for r in receiver.requests)
    assert len(receiver.requests) == len(ids) + 2
    # nothing secret in what was sent: no link, ticket or invitation
    sent = json.dumps(receiver.accepted)
    assert "ticket" not in sent and "invitation" not in sent and "/enter/" not in sent
    # the deliveries API: newest first; the first event's two failures are there with their next retry
    oldest = list(reversed(listed["deliveries"]))
    assert [(d["event_id"], d["attempt"], d["outcome"], d["status"]) for d in oldest[:3]] == [
        (ids[0], 1, "retrying", 500), (ids[0], 2, "retrying", 500), (ids[0], 3, "delivered", 200)]
    assert oldest[0]["next_retry_at"] is not None and oldest[2]["next_retry_at"] is None
    assert listed["counters"] == {"pending": 0, "delivered": len(ids), "failed": 0, "dropped": 0}


async def test_a_key_sees_only_its_own_webhooks_and_gets_only_its_own_sessions_events(
        tmp_path: Path, fast_retries: None) -> None:
    server = await start_cobrowse(data_dir=str(tmp_path))
    other_key = create_key(tmp_path, "crm", "--scope", "webhooks:manage", "--scope", "sessions:write")
    mine, theirs = await start_receiver(), await start_receiver()
    try:
        hook = await add_webhook(server, mine, events=["session.created"])
        other = await add_webhook(server, theirs, key=other_key, events=["session.created"])
        assert (await server.api("GET", f"/api/v1/webhooks/{hook['id']}", key=other_key)).status == 404
        assert (await server.api("DELETE", f"/api/v1/webhooks/{hook['id']}", key=other_key)).status == 404
        listed = json.loads((await server.api("GET", "/api/v1/webhooks", key=other_key)).body)
        assert [h["id"] for h in listed["webhooks"]] == [other["id"]] and "secret" not in listed["webhooks"][0]
        ours = await server.create_session("http://example.com/ours")
        reply = await server.api("POST", "/api/v1/sessions", {"url": "http://example.com/theirs"}, key=other_key)
        assert reply.status == 201, reply.text
        # the fence: each receiver gets its own key's session; had ours gone to theirs, it came first
        await theirs.wait_for(lambda e: True, "the other key's session")
        await mine.wait_for(lambda e: True, "our session")
        assert [e["session_id"] for e in mine.accepted] == [ours["id"]]
        assert [e["session_id"] for e in theirs.accepted] == [json.loads(reply.body)["id"]]
        assert (await server.api("DELETE", f"/api/v1/webhooks/{hook['id']}")).status == 204
        assert (await server.api("GET", f"/api/v1/webhooks/{hook['id']}")).status == 404
    finally:
        await stop_cobrowse(server)
        await mine.close()
        await theirs.close()


async def test_a_webhook_only_gets_the_types_it_asked_for(fast_retries: None) -> None:
    server = await start_cobrowse()
    ended_only, everything = await start_receiver(), await start_receiver()
    try:
        await add_webhook(server, ended_only, events=["session.ended"])
        await add_webhook(server, everything)
        created = await server.create_session("http://example.com/")
        assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
        await everything.wait_for(lambda e: e["type"] == "session.ended", "the end, on the catch-all webhook")
        await ended_only.wait_for(lambda e: e["type"] == "session.ended", "the end")
    finally:
        await stop_cobrowse(server)
        await ended_only.close()
        await everything.close()
    assert [e["type"] for e in ended_only.accepted] == ["session.ended"]
    assert [e["type"] for e in everything.accepted] == ["session.created", "session.ended"]


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://169.254.169.254/latest", "metadata"),
    ("http://10.0.0.1/hook", "private"),
])
async def test_a_webhook_url_the_ssrf_guard_refuses_is_refused_at_creation(url: str, why: str) -> None:
    server = await start_cobrowse(allow_private=False)
    try:
        reply = await server.api("POST", "/api/v1/webhooks", {"url": url})
        assert (await server.api("GET", "/api/v1/webhooks")).body == b'{"webhooks": []}'
    finally:
        await stop_cobrowse(server)
    assert reply.status == 422 and (reply.header("Content-Type") or "").startswith("application/problem+json")
    assert why in json.loads(reply.body)["detail"]


@pytest.mark.parametrize("body", [
    {}, {"url": "ftp://example.com/"}, {"url": "/relative"}, {"url": "http://user:pw@example.com/"},
    {"url": "http://example.com/", "events": ["session.exploded"]}, {"url": "http://example.com/", "events": []},
    {"url": "http://example.com/", "description": 5},
])
async def test_a_wrong_field_is_a_400_naming_it(body: dict[str, Any]) -> None:
    server = await start_cobrowse()
    try:
        reply = await server.api("POST", "/api/v1/webhooks", body)
    finally:
        await stop_cobrowse(server)
    assert reply.status == 400 and (reply.header("Content-Type") or "").startswith("application/problem+json")
    named = json.loads(reply.body)["detail"]
    assert any(f'"{name}"' in named for name in ("url", "events", "description")), named


async def test_webhooks_need_the_webhooks_scope(tmp_path: Path) -> None:
    server = await start_cobrowse(data_dir=str(tmp_path))
    reader = create_key(tmp_path, "reader", "--scope", "sessions:read")
    try:
        refused = await server.api("GET", "/api/v1/webhooks", key=reader)
        anonymous = await server.api("GET", "/api/v1/webhooks", key=None)
    finally:
        await stop_cobrowse(server)
    assert (refused.status, anonymous.status) == (403, 401)
    assert "webhooks:manage" in json.loads(refused.body)["detail"]


async def test_a_full_queue_drops_the_newest_and_counts_it_in_the_deliveries(fast_retries: None) -> None:
    server = await start_cobrowse()
    server.runner.app[HOOKS].limits = Limits(queue=1)
    assert isinstance(server.runner.app[HOOKS], SharedWebhookStore)
    receiver = await start_receiver(fail_first=10**6)  # never takes anything: the first event stays queued
    try:
        hook = await add_webhook(server, receiver)
        created = await server.create_session("http://example.com/")
        assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200

        async def dropped() -> dict[str, Any] | None:
            got = json.loads((await server.api("GET", f"/api/v1/webhooks/{hook['id']}/deliveries")).body)
            return got if got["counters"]["dropped"] else None

        listed = await until(dropped, "a counted drop")
        assert listed is not None
    finally:
        await stop_cobrowse(server)
        await receiver.close()
    drop = next(d for d in listed["deliveries"] if d["outcome"] == "dropped")
    assert drop["event_type"] == "session.ended" and drop["attempt"] == 0 and "queue was full" in drop["error"]
    assert listed["counters"]["pending"] == 1


async def test_the_attempts_are_bounded_then_the_event_is_given_up_and_the_next_goes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_delivery, "DEFAULTS", dataclasses.replace(FAST, attempts=3))
    server = await start_cobrowse()
    receiver = await start_receiver(fail_first=3)
    try:
        hook = await add_webhook(server, receiver)
        created = await server.create_session("http://example.com/")
        assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
        await receiver.wait_for(lambda e: e["type"] == "session.ended", "the event after the one given up")
        listed = json.loads((await server.api("GET", f"/api/v1/webhooks/{hook['id']}/deliveries")).body)
    finally:
        await stop_cobrowse(server)
        await receiver.close()
    assert [(r.event_type, r.attempt, r.answered) for r in receiver.requests] == [
        ("session.created", 1, 500), ("session.created", 2, 500), ("session.created", 3, 500),
        ("session.ended", 1, 200)]
    assert [d["outcome"] for d in reversed(listed["deliveries"])] == ["retrying", "retrying", "failed", "delivered"]
    assert listed["counters"] == {"pending": 0, "delivered": 1, "failed": 1, "dropped": 0}


def test_backoff_doubles_from_the_first_delay_is_capped_and_jittered_down() -> None:
    settings = webhook_delivery.DeliverySettings(first_delay=2.0, max_delay=30.0, jitter=0.5)
    assert [webhook_delivery.backoff(settings, n, lambda: 0.0) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert webhook_delivery.backoff(settings, 3, lambda: 1.0) == 4.0  # at most half taken off


async def test_waiting_approved_and_removed_visitors_are_events_too(fast_retries: None) -> None:
    server = await start_cobrowse()
    receiver = await start_receiver()
    try:
        await add_webhook(server, receiver, events=["participant.waiting", "participant.joined",
                                                    "participant.removed"])
        reply = await server.api("POST", "/api/v1/sessions", {"url": "http://example.com/", "agent": {"id": "a1"},
                                                              "options": {"require_approval": True}})
        assert reply.status == 201, reply.text
        created = json.loads(reply.body)
        await join(server, created, "Vic")
        await receiver.wait_for(lambda e: e["type"] == "participant.waiting", "the visitor waiting")
        vic = receiver.accepted[-1]["data"]["participant"]["id"]
        base = f"/api/v1/sessions/{created['id']}/participants/{vic}"
        assert (await server.api("POST", f"{base}/approve")).status == 200
        assert (await server.api("DELETE", base)).status == 200
        await receiver.wait_for(lambda e: e["type"] == "participant.removed", "the visitor removed")
    finally:
        await stop_cobrowse(server)
        await receiver.close()
    assert [(e["type"], e["data"]["participant"]["id"]) for e in receiver.accepted] == [
        ("participant.waiting", vic), ("participant.joined", vic), ("participant.removed", vic)]
    assert receiver.accepted[-1]["data"]["by"] == "api" and receiver.accepted[-1]["data"]["reason"] == "removed"


async def test_an_address_the_guard_refuses_is_refused_again_at_delivery_and_never_dialled() -> None:
    """The deliverer dials through the SSRF guard at every attempt, not only at creation: a webhook
    whose name now resolves to loopback (here: an override, vetted like any answer) on a server
    that does not allow private targets is never connected to; the attempt says why."""
    canary = await Canary(fresh_loopback()).start()
    client = UpstreamClient(UpstreamSettings(allow_private=False,
                                             resolve_overrides={"hooks.example.com:80": canary.address}))
    await client.start()
    shared = MemoryShared()
    hooks = SharedWebhookStore(shared)
    deliverer = webhook_delivery.Deliverer(hooks, shared, client, dataclasses.replace(FAST, attempts=1))
    try:
        await hooks.add(Webhook("wh_1", "default", "http://hooks.example.com/in", "whsec_x", 0.0))
        await deliverer.offer("default", Event("evt_1", "session.created", 0.0, "s1", {}))

        async def settled() -> list[Attempt]:
            return await hooks.attempts("wh_1", 10)

        attempts = await until(settled, "the attempt")
    finally:
        await deliverer.close()
        await client.close()
        await canary.close()
    assert [(a.outcome, a.status) for a in attempts] == [("failed", 0)]
    assert "loopback" in attempts[0].error and canary.connections == 0


async def test_the_server_stops_cleanly_while_a_delivery_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A receiver that never answers holds a delivery for the whole attempt timeout (60 s here);
    stopping the server cancels the worker instead of waiting it out (the bound only detects a
    hang: a stop that waited would take the full minute)."""
    monkeypatch.setattr(webhook_delivery, "DEFAULTS", dataclasses.replace(FAST, timeout=60.0))
    arrived, never = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        arrived.set()
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hang)
    receiver = await serve(app)
    server = await start_cobrowse(read_timeout=120.0)  # nothing but the stop ends the attempt early
    try:
        reply = await server.api("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/hook"})
        assert reply.status == 201
        await server.create_session("http://example.com/")
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        stopping = asyncio.ensure_future(stop_cobrowse(server))
        stopped, _ = await asyncio.wait({stopping}, timeout=20)
        never.set()
        await stopping
        await receiver.close()
    assert stopped, "stopping the server waited for the hanging delivery"
