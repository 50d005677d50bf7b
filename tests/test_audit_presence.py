"""Presence in the audit trail (``proxy.presence``), with scripted participants' sync sockets on
a real server: a participant ``left`` only when its last page's socket closed and none reopened
within the grace (a reload does not count), comes back as ``joined`` with ``again``, and nothing
is noted for a session after its ``ended`` event (its sockets close after it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse
from world.sync_client import connect, join, start_session
from world.until import until

from proxy import presence
from proxy.cli import main
from proxy.keys import AUDIT

GRACE = 0.3


async def written(server: Cobrowse, count: int) -> None:
    """Return once the writer has written ``count`` records (the positive fence)."""
    sink = server.runner.app[AUDIT]

    async def reached() -> dict[str, int] | None:
        counters = sink.counters()
        return counters if counters["written"] >= count else None

    await until(reached, f"the writer has written {count} records")


async def test_left_only_after_the_grace_back_as_joined_again_and_nothing_after_ended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(presence, "LEAVE_GRACE", GRACE)
    server = await start_cobrowse(data_dir=str(tmp_path))
    try:
        created, leader = await start_session(server)
        visitor = await join(server, created, "Vic")
        page = await connect(server, created, visitor)
        await page.close()
        reloaded = await connect(server, created, visitor)  # the visitor's next page, within the grace
        leader_page = await connect(server, created, leader)
        await leader_page.close()
        # the fence: the leader's "left"; the visitor's, had its first close counted, would come first
        await written(server, 4)
        back = await connect(server, created, leader)
        reply = await server.api("DELETE", f"/api/v1/sessions/{created['id']}")
        assert reply.status == 200
        for ws in (back, reloaded):
            await ws.receive()  # the server closes both sockets as the session ends
            await ws.close()
    finally:
        await stop_cobrowse(server)
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", created["id"], "--data-dir", str(tmp_path), "-o", str(out)]) == 0
    events = [r["record"] for r in map(json.loads, out.read_text().splitlines()) if r["record"]["kind"] == "event"]
    assert [e["name"] for e in events] == ["created", "joined", "joined", "left", "joined", "ended"], events
    leader_id = events[1]["participant"]
    assert events[1]["detail"]["role"] == "leader" and events[2]["detail"]["role"] == "follower"
    assert events[3]["participant"] == leader_id and events[4]["participant"] == leader_id
    assert events[4]["detail"]["again"] == "yes"
