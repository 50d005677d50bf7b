"""Stopping and health: ``/livez``, ``/readyz`` (503 naming why), and the graceful stop
(``proxy.serving.serve_until_stopped``): participants are told over the sync socket, a request in
flight finishes and is in the audit trail, which verifies; ``cobrowse serve`` stops that way on
SIGTERM and SIGINT and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser
from world.harness import API_KEY, DOMAIN, Cobrowse, StartCobrowse, free_port
from world.party import lead as lead_in_browser
from world.sync_client import connect, hello, join, start_session, until_closed
from world.targets import World, serve_app

from proxy import health as health_module
from proxy.app import build_app
from proxy.cli import main
from proxy.config import Config
from proxy.serving import STOPPING, serve_until_stopped
from sessions.model import Session

ROOT = Path(__file__).resolve().parent.parent
SLOW = "slow.test"


class SlowTarget:
    """A target whose ``/slow`` answers only once released; ``started`` is set when it is asked."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        async def slow(request: web.Request) -> web.Response:
            self.started.set()
            await self.release.wait()
            return web.Response(text="finished after the stop began", content_type="text/plain")

        made = web.Application()
        made.router.add_get("/slow", slow)
        return made


@pytest.fixture
async def slow_target() -> AsyncIterator[tuple[SlowTarget, int]]:
    target = SlowTarget()
    runner, port = await serve_app(target.app())
    try:
        yield target, port
    finally:
        target.release.set()
        await runner.cleanup()


async def health(server: Cobrowse, path: str) -> tuple[int, dict[str, Any]]:
    reply = await server.request("GET", f"{server.control}{path}", cookies={})
    return reply.status, json.loads(reply.body)


@dataclass(slots=True)
class Stoppable:
    """A server run by ``serve_until_stopped`` in this process (``stop`` plays the signal)."""

    server: Cobrowse
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def stoppable(store: Any = None, **fields: Any) -> AsyncIterator[Stoppable]:
    config = Config(host="127.0.0.1", port=free_port(), domain=DOMAIN, api_key=API_KEY, allow_private=True,
                    **fields)
    listening, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve_until_stopped(build_app(config, store), config, listening.set, stop))
    await listening.wait()
    client = aiohttp.ClientSession(auto_decompress=False)
    try:
        # A raw client (no runner: the server is not the harness's).
        yield Stoppable(Cobrowse(port=config.port, config=config, runner=None, client=client),  # type: ignore[arg-type]
                        stop, task)
    finally:
        stop.set()
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def spawned(data_dir: Path, *flags: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, Cobrowse]]:
    """``cobrowse serve`` as a process of its own, JSON logs on its stderr, once it listens."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
    env["COBROWSE_API_KEY"] = API_KEY
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
        "--log-format", "json", *flags, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    client = aiohttp.ClientSession(auto_decompress=False)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)  # the banner: it listens
        assert b"cobrowse listening" in line, line
        yield proc, Cobrowse(port=port, config=None, runner=None, client=client)  # type: ignore[arg-type]
    finally:
        await client.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_livez_and_readyz_answer_200_on_a_healthy_server(start_server: StartCobrowse) -> None:
    server = await start_server()
    assert await health(server, "/livez") == (200, {"ok": True})
    assert await health(server, "/readyz") == (200, {"ready": True, "reasons": []})


async def test_readyz_is_503_naming_the_reason_while_stopping(start_server: StartCobrowse) -> None:
    server = await start_server()
    server.runner.app[STOPPING].set()
    status, body = await health(server, "/readyz")
    assert status == 503 and body["ready"] is False and body["reasons"][0].startswith("stopping")
    assert (await health(server, "/livez"))[0] == 200  # alive all the same


class DeadStore:
    """A session store whose backend cannot be reached (the store is a declared seam)."""

    async def get(self, session_id: str) -> Session | None:
        raise ConnectionRefusedError("redis down")

    async def close(self) -> None:
        return None

    async def purge(self, now: float) -> int:
        return 0


async def test_readyz_is_503_when_the_store_cannot_be_reached() -> None:
    async with stoppable(DeadStore()) as running:
        status, body = await health(running.server, "/readyz")
    assert status == 503 and body["reasons"] == ["store: ConnectionRefusedError"]


def test_readiness_judges_the_audit_queue_full_at_90_percent_of_its_capacity() -> None:
    assert health_module._audit({"enabled": True, "queued": 8, "capacity": 10}) == []
    assert health_module._audit({"enabled": True, "queued": 9, "capacity": 10}) == [
        "audit: 9 of 10 records waiting for the disk"]
    assert health_module._audit({"enabled": False}) == []


async def test_a_stop_tells_participants_drains_the_request_in_flight_and_closes_the_trail(
        tmp_path: Path, slow_target: tuple[SlowTarget, int], capsys: pytest.CaptureFixture[str]) -> None:
    target, target_port = slow_target
    async with stoppable(resolve_overrides={f"{SLOW}:80": ("127.0.0.1", target_port)}, data_dir=str(tmp_path),
                         shutdown_grace=30.0) as running:
        server = running.server
        created, leader = await start_session(server, f"http://{SLOW}/slow")
        follower = await join(server, created, "Vic")
        sockets = [await connect(server, created, leader), await connect(server, created, follower)]
        await hello(sockets[0], leader, "p1", url=f"http://{SLOW}/slow")
        await hello(sockets[1], follower, "p2", url=f"http://{SLOW}/slow")
        in_flight = asyncio.create_task(server.request(
            "GET", server.proxy_url(created["id"], SLOW, "/slow"), cookies=leader.cookies))
        await target.started.wait()

        running.stop.set()
        for ws in sockets:
            seen = await until_closed(ws)
            assert {"type": "restarting"} in seen
            assert ws.close_code == 1001
        # The stop has begun (the sockets were told and closed). Half a second is far beyond a drain
        # that would not wait (it cuts the request at once) and far within the 30 s grace: the
        # request in flight must still complete then.
        await asyncio.sleep(0.5)
        target.release.set()
        reply = await in_flight
        assert reply.status == 200 and reply.body == b"finished after the stop began"
        await asyncio.wait_for(running.task, 30)
        with pytest.raises(aiohttp.ClientConnectorError):
            await server.request("GET", f"{server.control}/livez", cookies={})

    capsys.readouterr()
    assert main(["audit", "verify", created["id"], "--data-dir", str(tmp_path)]) == 0, capsys.readouterr().out
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", created["id"], "--data-dir", str(tmp_path), "-o", str(out)]) == 0
    records = [json.loads(line)["record"] for line in out.read_text().splitlines()]
    drained = [r for r in records if r.get("kind") == "exchange" and r.get("url", "").endswith("/slow")]
    assert [r["status"] for r in drained] == [200]


async def test_a_stop_closes_relayed_target_websockets_going_away(world: World) -> None:
    """A target WebSocket's relay waits on its peers: without being closed it would hold the stop
    for the whole grace (30 s here) and then be cut."""
    async with stoppable(resolve_overrides=world.resolve_overrides(), shutdown_grace=30.0) as running:
        server = running.server
        created, leader = await start_session(server, "http://site-a.test/")
        host = urlsplit(server.proxy_url(created["id"], "site-a.test")).netloc
        cookie = "; ".join(f"{k}={v}" for k, v in leader.cookies.items())
        ws = await server.client.ws_connect(f"http://127.0.0.1:{server.port}/ws", headers={
            "Host": host, "Origin": f"http://{host}", "Cookie": cookie})
        await ws.send_str("hi")
        assert (await ws.receive(timeout=10)).data == "echo:hi"
        running.stop.set()
        closing = await ws.receive(timeout=60)
        assert closing.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001
        await asyncio.wait_for(running.task, 60)


async def test_the_page_says_server_restarting_when_the_server_stops(browser: Browser, world: World) -> None:
    async with stoppable(resolve_overrides=world.resolve_overrides(), shutdown_grace=5.0) as running:
        created = await running.server.create_session("http://site-a.test/login")
        leader = await lead_in_browser(browser, created)
        assert (await leader.toolbar(".status").text_content() or "").strip() == "Connected"
        running.stop.set()
        await asyncio.wait_for(running.task, 30)
        await leader.wait_js("() => window.__cbSync.status().status === 'restarting'")
        await leader.wait_js("() => (document.querySelector('cobrowse-ui').shadowRoot.querySelector('.status')"
                             " || {}).textContent === 'Server restarting, reconnecting…'")
        await leader.context.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cobrowse_serve_stops_gracefully_on_a_signal_and_exits_0(sig: signal.Signals, tmp_path: Path) -> None:
    async with spawned(tmp_path) as (proc, server):
        assert (await health(server, "/readyz"))[0] == 200
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        lines = [json.loads(text) for text in (await proc.stderr.read()).decode().splitlines() if text.strip()]
    events = [entry.get("event") for entry in lines]
    assert "server.stopping" in events and events[-1] == "server.stopped"
    assert API_KEY not in json.dumps(lines)


async def test_cobrowse_serve_drains_a_request_through_a_second_sigterm(
        tmp_path: Path, slow_target: tuple[SlowTarget, int]) -> None:
    target, target_port = slow_target
    async with spawned(tmp_path, "--resolve", f"{SLOW}:80=127.0.0.1:{target_port}",
                       "--shutdown-grace", "30") as (proc, server):
        assert proc.stderr is not None
        created, leader = await start_session(server, f"http://{SLOW}/slow")
        in_flight = asyncio.create_task(server.request(
            "GET", server.proxy_url(created["id"], SLOW, "/slow"), cookies=leader.cookies))
        await target.started.wait()
        proc.send_signal(signal.SIGTERM)
        while b"server.stopping" not in (text := await asyncio.wait_for(proc.stderr.readline(), 30)):
            assert text, "the server exited without logging server.stopping"
        proc.send_signal(signal.SIGTERM)  # while it drains: must not cut the request short
        target.release.set()
        reply = await in_flight
        assert reply.status == 200 and reply.body == b"finished after the stop began"
        assert await asyncio.wait_for(proc.wait(), 30) == 0
