"""A server killed with SIGKILL in the middle of a burst of proxied requests leaves an audit
trail that verifies up to its last record, and holds every record the writer had reported
written before the kill.

The server is a real ``cobrowse serve`` subprocess (its own data dir); the target is a small
aiohttp app on loopback; the burst is 16 connections of a leader's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from world.targets import free_port, serve
from world.until import until

from proxy.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "cobrowse.localhost"
KEY = "crash-test-key"
CONNECTIONS = 16
WRITTEN_BEFORE_KILL = 150


def target_app() -> web.Application:
    async def item(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 512, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/item/{n}", item)
    return app


async def start_server(data_dir: Path, target_port: int) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "COBROWSE_AUDIT_KEYS"}
    env["COBROWSE_API_KEY"] = KEY
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
        "--resolve", f"burst.test:80=127.0.0.1:{target_port}", "--log-level", "warning",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)  # the banner: it listens
    assert b"cobrowse listening" in line, line
    return proc, port


async def open_session(client: aiohttp.ClientSession, port: int) -> tuple[str, str, str]:
    """(session id, proxy host, participant cookie) of a new session on burst.test, led."""
    base, host = f"http://127.0.0.1:{port}", {"Host": f"{DOMAIN}:{port}"}
    async with client.post(f"{base}/api/v1/sessions", headers={**host, "Authorization": f"Bearer {KEY}"},
                           json={"url": "http://burst.test/item/0", "agent": {"id": "a", "name": "A"}}) as r:
        assert r.status == 201
        created = await r.json()
    path = created["leader_url"].split(f"{DOMAIN}:{port}", 1)[1]
    async with client.get(base + path, headers=host, allow_redirects=False) as r:
        assert r.status == 302
        cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        proxy_host = r.headers["Location"].split("//", 1)[1].split("/", 1)[0]
    return created["id"], proxy_host, cookie


async def written(client: aiohttp.ClientSession, port: int) -> int:
    async with client.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": f"{DOMAIN}:{port}"}) as r:
        return int((await r.json())["audit"]["written"])


async def test_sigkill_during_a_burst_leaves_a_trail_that_verifies_to_its_last_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = await serve(target_app())
    proc, port = await start_server(tmp_path, target.port)
    try:
        async with aiohttp.ClientSession() as client:
            sid, proxy_host, cookie = await open_session(client, port)
            headers = {"Host": proxy_host, "Cookie": cookie}
            counter = iter(range(1, 1_000_000))

            async def burst() -> None:
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    while proc.returncode is None:
                        async with client.get(f"http://127.0.0.1:{port}/item/{next(counter)}",
                                              headers=headers) as r:
                            await r.read()

            workers = [asyncio.ensure_future(burst()) for _ in range(CONNECTIONS)]

            async def enough() -> int:
                seen = await written(client, port)
                return seen if seen >= WRITTEN_BEFORE_KILL else 0

            # The positive fence: the writer says this many records are on file.
            seen = await until(enough, f"the writer reports {WRITTEN_BEFORE_KILL} records written", seconds=30)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            await asyncio.gather(*workers)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await target.close()

    capsys.readouterr()
    assert main(["audit", "verify", sid, "--data-dir", str(tmp_path)]) == 0, capsys.readouterr().out
    assert "chain intact" in capsys.readouterr().out
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", sid, "--data-dir", str(tmp_path), "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= seen
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    exchanges = [r["record"] for r in rows if r["record"]["kind"] == "exchange"]
    assert exchanges and all(e["path"] == "upstream" and e["url"].startswith("http://burst.test/item/")
                             for e in exchanges)
