"""``GET /api/v1/events`` (issue 9 item 3): the integration events of the calling key's sessions as
server-sent events, on a real server read by a raw HTTP client: live, in order, with ids a client
resumes from (``Last-Event-ID``, from the bounded buffer; a ``gap`` message when it lost some),
heartbeats, another key's sessions never shown, and the stream closed when the server stops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from world.apikeys import create_key
from world.harness import API_KEY, DOMAIN, Cobrowse, start_cobrowse, stop_cobrowse
from world.sync_client import lead
from world.until import until

from proxy import events_api
from proxy.events import BusLimits
from proxy.keys import EVENTS

WAIT = 10.0


@dataclass
class Message:
    id: str = ""
    event: str = ""
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


class Reader:
    """SSE messages as a browser's EventSource parses them (comments kept, for heartbeats)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> Message | None:
        """The next message or comment block; None once the server closed the stream."""
        message = Message()
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), WAIT)
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if not line:
                if message.event or message.data or message.comments:
                    return message
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if not name:
                message.comments.append(value)
            elif name in ("id", "event", "data"):
                setattr(message, name, value)

    async def event(self) -> Message:
        """The next event (comments and the retry line skipped)."""
        while True:
            message = await self.next()
            assert message is not None, "the stream closed while an event was awaited"
            if message.event:
                return message


@asynccontextmanager
async def stream(server: Cobrowse, key: str = API_KEY, last: str = "") -> AsyncIterator[Reader]:
    headers = {"Host": f"{DOMAIN}:{server.port}", "Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    if last:
        headers["Last-Event-ID"] = last
    # a client of its own: stopping the server closes the harness's client first
    async with aiohttp.ClientSession() as client, client.get(
            f"http://127.0.0.1:{server.port}/api/v1/events", headers=headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield Reader(response)


async def test_the_callers_session_events_arrive_live_in_order_with_sortable_ids() -> None:
    server = await start_cobrowse()
    try:
        async with stream(server) as events:
            created = await server.create_session("http://example.com/")
            await lead(server, created)
            assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
            seen = [await events.event() for _ in range(3)]
    finally:
        await stop_cobrowse(server)
    assert [m.event for m in seen] == ["session.created", "participant.joined", "session.ended"]
    assert [m.id for m in seen] == sorted(m.id for m in seen) == [m.json["id"] for m in seen]
    assert all(m.json["session_id"] == created["id"] and m.json["type"] == m.event for m in seen)
    assert seen[1].json["data"]["participant"]["role"] == "leader"


async def test_a_client_resumes_after_its_last_event_id_and_then_gets_live_ones() -> None:
    server = await start_cobrowse()
    try:
        async with stream(server) as events:
            first = await server.create_session("http://example.com/one")
            second = await server.create_session("http://example.com/two")
            one = await events.event()
            two = await events.event()
        async with stream(server, last=one.id) as resumed:
            replayed = await resumed.event()
            third = await server.create_session("http://example.com/three")
            live = await resumed.event()
    finally:
        await stop_cobrowse(server)
    assert [e.json["session_id"] for e in (one, two)] == [first["id"], second["id"]]
    assert (replayed.id, replayed.json["session_id"]) == (two.id, second["id"])
    assert live.json["session_id"] == third["id"]


async def test_a_client_behind_the_buffer_is_told_of_the_gap_first() -> None:
    server = await start_cobrowse()
    server.runner.app[EVENTS].limits = BusLimits(replay=2)
    try:
        async with stream(server) as events:
            for n in range(4):
                await server.create_session(f"http://example.com/{n}")
            ids = [(await events.event()).id for _ in range(4)]
        async with stream(server, last=ids[0]) as resumed:
            gap = await resumed.event()
            kept = [await resumed.event() for _ in range(2)]
    finally:
        await stop_cobrowse(server)
    assert gap.event == "gap" and gap.json == {"after": ids[0]}
    assert [m.id for m in kept] == ids[2:]


async def test_heartbeats_keep_an_idle_stream_talking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT", 0.05)
    server = await start_cobrowse()
    try:
        async with stream(server) as events:
            comments: list[str] = []
            while "heartbeat" not in comments:
                message = await events.next()
                assert message is not None
                comments += message.comments
    finally:
        await stop_cobrowse(server)


async def test_a_client_that_goes_away_is_forgotten_at_the_next_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT", 0.05)
    server = await start_cobrowse()
    bus = server.runner.app[EVENTS]
    try:
        async with stream(server) as events:
            await events.next()
            assert bus.counters()["streams"] == 1

        async def forgotten() -> bool:
            return bus.counters()["streams"] == 0

        await until(forgotten, "the stream forgotten")
    finally:
        await stop_cobrowse(server)


async def test_another_keys_stream_gets_only_its_own_sessions(tmp_path: Path) -> None:
    server = await start_cobrowse(data_dir=str(tmp_path))
    other = create_key(tmp_path, "dashboard", "--scope", "sessions:read", "--scope", "sessions:write")
    try:
        async with stream(server, key=other) as theirs, stream(server) as ours:
            mine = await server.create_session("http://example.com/mine")
            reply = await server.api("POST", "/api/v1/sessions", {"url": "http://example.com/theirs"}, key=other)
            assert reply.status == 201, reply.text
            # the fence: our own first event; had ours reached their stream, it would be their first
            theirs_first = await theirs.event()
            ours_first = await ours.event()
    finally:
        await stop_cobrowse(server)
    assert theirs_first.json["session_id"] == json.loads(reply.body)["id"]
    assert ours_first.json["session_id"] == mine["id"]


async def test_the_stream_ends_when_the_server_shuts_down() -> None:
    server = await start_cobrowse()
    closed = False
    try:
        async with stream(server) as events:
            await server.create_session("http://example.com/")
            await events.event()
            stopping = asyncio.ensure_future(stop_cobrowse(server))
            while (await events.next()) is not None:
                pass
            closed = True
            await asyncio.wait_for(stopping, WAIT)
    finally:
        if not closed:
            await stop_cobrowse(server)
    assert closed


async def test_a_client_that_does_not_ask_for_a_stream_gets_the_buffered_events_and_the_end() -> None:
    server = await start_cobrowse()
    try:
        async with stream(server) as events:
            for n in range(3):
                await server.create_session(f"http://example.com/{n}")
            ids = [(await events.event()).id for _ in range(3)]
        poll = await server.request("GET", f"{server.control}/api/v1/events", cookies={},
                                    headers={"Authorization": f"Bearer {API_KEY}", "Last-Event-ID": ids[0]})
    finally:
        await stop_cobrowse(server)
    assert poll.status == 200 and (poll.header("Content-Type") or "").startswith("text/event-stream")
    assert [line[4:] for line in poll.text.splitlines() if line.startswith("id: ")] == ids[1:]


@pytest.mark.parametrize("last", ["1", "evt_zz", "evt_" + "0" * 25])
async def test_a_last_event_id_that_is_not_an_event_id_is_a_400(last: str) -> None:
    server = await start_cobrowse()
    try:
        reply = await server.request("GET", f"{server.control}/api/v1/events",
                                     headers={"Authorization": f"Bearer {API_KEY}", "Last-Event-ID": last},
                                     cookies={})
    finally:
        await stop_cobrowse(server)
    assert reply.status == 400 and "Last-Event-ID" in json.loads(reply.body)["detail"]
