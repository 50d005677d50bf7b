"""A session's lifecycle: it expires, it idles out, and once ended it is forgotten after the
retention period, by the server's purge and by ``cobrowse purge`` (``proxy.ending``,
``sessions.lifecycle``, ``proxy.purge``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from world.harness import Cobrowse, StartCobrowse
from world.sync_client import ScriptedParty, connect, hello, send, start_session
from world.targets import serve_app
from world.until import until

from proxy.cli import main
from proxy.ending import _Watch
from proxy.purge import purge_once
from sessions.ids import new_session_id
from sessions.lifecycle import Lifecycle, end_reason, status
from sessions.model import Session
from sessions.options import SessionOptions
from sessions.store import MemoryStore, StoreFull

URL = "https://example.com/"
DAY = 86400.0


async def described(server: Cobrowse, sid: str) -> dict[str, Any]:
    reply = await server.api("GET", f"/api/v1/sessions/{sid}")
    assert reply.status == 200, reply.text
    found: dict[str, Any] = json.loads(reply.body)
    return found


async def ended(server: Cobrowse, sid: str) -> dict[str, Any]:
    """The session's description once it has ended (a positive fence)."""
    async def check() -> dict[str, Any] | None:
        body = await described(server, sid)
        return body if body["status"] == "ended" else None

    return await until(check, f"session {sid} ended")


async def keep_busy(ws: aiohttp.ClientWebSocketResponse, party: ScriptedParty, stop: asyncio.Event) -> None:
    """Sync messages only (no proxied request after the socket opened), ten a second, until ``stop``."""
    n = 0
    while not stop.is_set():
        n += 1
        await send(ws, party, "scroll", x=0, y=n)
        await asyncio.sleep(0.1)


async def test_a_session_past_its_lifetime_ends_by_itself_as_expired(start_server: StartCobrowse) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<p>hello</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner, port = await serve_app(app)
    try:
        server = await start_server(session_lifetime=1.0, idle_timeout=0,
                                    resolve_overrides={"app.test:80": ("127.0.0.1", port)})
        created = await server.create_session("http://app.test/")
        assert (await server.redeem(created["leader_url"])).status == 302
        body = await ended(server, created["id"])
        assert body["ended_reason"] == "expired"
        assert datetime.fromisoformat(body["ended_at"]) >= datetime.fromisoformat(body["expires_at"])
        gone = await server.request("GET", server.proxy_url(created["id"], "app.test", "/"))
        assert gone.status == 410
    finally:
        await runner.cleanup()


async def test_a_quiet_session_idles_out_while_a_busy_one_lives_on(start_server: StartCobrowse) -> None:
    server = await start_server(idle_timeout=1.0)
    busy, leader = await start_session(server)
    ws = await connect(server, busy, leader)
    await hello(ws, leader, "page-l")
    quiet = await server.create_session(URL)
    stop = asyncio.Event()
    beat = asyncio.create_task(keep_busy(ws, leader, stop))
    try:
        body = await ended(server, quiet["id"])
        assert body["ended_reason"] == "idle"
        # The busy session is older than the quiet one: had activity not counted, it would have
        # idled out first.
        assert (await described(server, busy["id"]))["status"] == "live"
    finally:
        stop.set()
        await beat
    body = await ended(server, busy["id"])
    assert body["ended_reason"] == "idle"
    listed = json.loads((await server.api("GET", "/api/v1/sessions?status=ended")).body)["sessions"]
    assert {s["id"]: s["ended_reason"] for s in listed} == {busy["id"]: "idle", quiet["id"]: "idle"}
    await ws.close()


def test_the_deadline_is_the_earlier_of_expiry_and_idleness() -> None:
    assert _Watch(expires_at=100.0, idle_timeout=30.0, last_active=10.0).deadline() == (40.0, "idle")
    assert _Watch(expires_at=100.0, idle_timeout=30.0, last_active=80.0).deadline() == (100.0, "expired")
    assert _Watch(expires_at=100.0, idle_timeout=0.0, last_active=10.0).deadline() == (100.0, "expired")
    life = Lifecycle(lifetime=7200.0, idle_timeout=1800.0, retention=30 * DAY)
    assert life.lifetime_of(SessionOptions()) == 7200.0 and life.idle_timeout_of(SessionOptions()) == 1800.0
    own = SessionOptions(expires_in=600, idle_timeout=0)
    assert life.lifetime_of(own) == 600.0 and life.idle_timeout_of(own) == 0.0


def _session(sid: str, created: float, lifetime: float = 3600.0, ended_at: float | None = None) -> Session:
    return Session(id=sid, target_url=URL, created_at=created, expires_at=created + lifetime, leader_id="l",
                   ended_at=ended_at, ended_reason="api" if ended_at is not None else "")


def test_a_session_nobody_ended_is_described_as_expired_once_its_time_is_up() -> None:
    session = _session("s", 0.0, lifetime=10.0)
    assert (status(session, 9.0), end_reason(session, 9.0)) == ("live", None)
    assert (status(session, 10.0), end_reason(session, 10.0)) == ("ended", "expired")


async def test_the_store_forgets_sessions_ended_before_the_cutoff_and_keeps_the_rest() -> None:
    store = MemoryStore()
    await store.add(_session("old", 0.0, ended_at=100.0))
    await store.add(_session("recent", 0.0, ended_at=900.0))
    await store.add(_session("expired", 0.0, lifetime=50.0))  # never ended: stopped at 50
    await store.add(_session("live", 0.0, lifetime=5000.0))
    assert sorted(await store.purge(cutoff=500.0, now=1000.0)) == ["expired", "old"]
    assert [await store.get(s) is not None for s in ("old", "recent", "expired", "live")] == [
        False, True, False, True]


async def test_a_full_store_makes_room_by_forgetting_the_longest_ended_session_only() -> None:
    store = MemoryStore(max_sessions=3)
    await store.add(_session("a", 0.0, ended_at=20.0))
    await store.add(_session("b", 0.0, ended_at=10.0))
    await store.add(_session("c", 0.0, lifetime=5000.0))
    await store.add(_session("d", 30.0, lifetime=5000.0))
    assert await store.get("b") is None and await store.get("a") is not None
    await store.add(_session("e", 31.0, lifetime=5000.0))
    assert await store.get("a") is None
    try:
        await store.add(_session("f", 32.0, lifetime=5000.0))
    except StoreFull as exc:
        assert "3 live sessions" in str(exc)
    else:
        raise AssertionError("a store full of live sessions took another")


def _trail(data_dir: Path, sid: str, age_days: float, suffix: str = ".jsonl") -> Path:
    path = data_dir / "audit" / f"{sid}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 10)
    old = time.time() - age_days * DAY
    os.utime(path, (old, old))
    return path


async def test_the_servers_purge_forgets_ended_sessions_and_old_trails_after_retention(
        start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(retention=0.0, data_dir=str(tmp_path), audit=False)
    app = server.runner.app
    gone = await server.create_session(URL)
    kept = await server.create_session(URL)
    assert (await server.api("DELETE", f"/api/v1/sessions/{gone['id']}")).status == 200
    assert (await described(server, gone["id"]))["ended_reason"] == "api"  # described until purged
    stale = _trail(tmp_path, new_session_id(), 2)
    live_trail = _trail(tmp_path, kept["id"], 2)  # old file, but its session is live: kept
    forgotten, trails = await purge_once(app, time.time() + 1)
    assert forgotten == (gone["id"],)
    assert [t.path for t in trails] == [stale] and not stale.exists() and live_trail.exists()
    assert (await server.api("GET", f"/api/v1/sessions/{gone['id']}")).status == 404
    assert (await described(server, kept["id"]))["status"] == "live"
    listed = json.loads((await server.api("GET", "/api/v1/sessions")).body)["sessions"]
    assert [s["id"] for s in listed] == [kept["id"]]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cobrowse_purge_removes_old_trails_and_says_what_it_removed(tmp_path: Path) -> None:
    old, recent = new_session_id(), new_session_id()
    old_trail, old_torn = _trail(tmp_path, old, 40), _trail(tmp_path, old, 40, ".torn")
    recent_trail = _trail(tmp_path, recent, 3)
    other = tmp_path / "audit" / "notes.txt"
    other.write_text("not a trail")
    os.utime(other, (0, 0))

    code, out, err = _run("purge", "--data-dir", str(tmp_path), "--dry-run")
    assert code == 0 and old_trail.exists() and old_torn.exists()
    assert f"would remove {old_trail} (session {old}, 10 bytes)" in out and "would remove 2 file(s) of 1" in err

    code, out, err = _run("purge", "--data-dir", str(tmp_path))
    assert code == 0
    assert not old_trail.exists() and not old_torn.exists() and recent_trail.exists() and other.exists()
    assert f"removed {old_trail} (session {old}, 10 bytes)" in out and f"removed {old_torn}" in out
    assert "removed 2 file(s) of 1 ended session(s), 20 bytes" in err

    code, out, err = _run("purge", "--data-dir", str(tmp_path), "--retention", "2d")
    assert code == 0 and not recent_trail.exists() and f"session {recent}" in out
    code, out, err = _run("purge", "--data-dir", str(tmp_path))
    assert code == 0 and out == "" and "removed 0 file(s)" in err


def test_a_session_keeps_the_servers_defaults_it_was_made_with_written_into_its_options() -> None:
    life = Lifecycle(lifetime=7200.0, idle_timeout=0.5, retention=DAY)
    made = life.resolved(SessionOptions(), max_followers=4)
    assert (made.expires_in, made.idle_timeout, made.max_followers) == (7200, 0.5, 4)
    assert made.to_json()["expires_in"] == 7200 and isinstance(made.to_json()["expires_in"], int)
    own = life.resolved(SessionOptions(expires_in=600, idle_timeout=0, max_followers=2), max_followers=4)
    assert (own.expires_in, own.idle_timeout, own.max_followers) == (600, 0, 2)
    assert life.lifetime_of(made) == 7200.0 and life.idle_timeout_of(made) == 0.5
