"""``cobrowse serve --store redis://...``: a real server process on a real ``redis-server``.

- A session created through the API lives in Redis (its key is there), and a server restarted on
  the same Redis still describes it;
- the password goes in the URL (AUTH) and never into what ``serve`` prints; ``rediss://`` speaks
  TLS (to a server whose certificate the URL names as the CA to trust);
- a Redis that cannot be reached (or refuses the password) stops ``serve`` before it listens:
  exit status non-zero, a message naming the URL without its password;
- two stores on one Redis namespace (as two processes will be) share sessions and idempotency
  claims, and their concurrent updates of one session lose nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from redis_server import free_port, running_redis
from test_store_contract import NOW, _session

from proxy.redis_store import RedisStore
from sessions.idempotency import Outcome, fingerprint
from sessions.model import Session

ROOT = Path(__file__).resolve().parent.parent
KEY = "redis-serve-test-key"
DOMAIN = "cobrowse.localhost"
PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def auth_redis_url() -> Iterator[str]:
    with running_redis(password=PASSWORD) as url:
        yield url


def _argv(port: int, store: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), "--store", store,
            "--data-dir", str(data_dir), "--log-level", "warning"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
    env["COBROWSE_API_KEY"] = KEY
    env["COBROWSE_SECRET_KEY"] = "s" * 32
    return env


async def _start(store: str, data_dir: Path) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(*_argv(port, store, data_dir), cwd=ROOT, env=_env(),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    banner = await asyncio.wait_for(proc.stdout.read(4096), 60)
    assert b"cobrowse listening" in banner, banner
    assert PASSWORD.encode() not in banner
    return proc, port


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _api(port: int) -> tuple[str, dict[str, str]]:
    return f"http://127.0.0.1:{port}/api/v1", {"Host": f"{DOMAIN}:{port}", "Authorization": f"Bearer {KEY}"}


async def _create(client: aiohttp.ClientSession, port: int) -> str:
    """A new session's id, made through the API."""
    base, headers = _api(port)
    async with client.post(f"{base}/sessions", headers=headers,
                           json={"url": "https://example.com/", "agent": {"id": "a1", "name": "Ann"}}) as r:
        assert r.status == 201, await r.text()
        created: str = (await r.json())["id"]
        return created


async def _describe(client: aiohttp.ClientSession, port: int, sid: str) -> dict[str, Any]:
    base, headers = _api(port)
    async with client.get(f"{base}/sessions/{sid}", headers=headers) as r:
        assert r.status == 200, await r.text()
        described: dict[str, Any] = await r.json()
        return described


async def test_serve_on_redis_keeps_sessions_there_across_a_restart(
        auth_redis_url: str, client: aiohttp.ClientSession, tmp_path: Path) -> None:
    proc, port = await _start(auth_redis_url, tmp_path)
    try:
        sid = await _create(client, port)
    finally:
        await _stop(proc)
    redis = Redis.from_url(auth_redis_url, decode_responses=True)
    try:
        assert await redis.exists(f"cobrowse:session:{sid}") == 1
    finally:
        await redis.aclose()

    again, port = await _start(auth_redis_url, tmp_path)
    try:
        described = await _describe(client, port, sid)
        assert described["id"] == sid and described["status"] == "live"
        assert described["url"] == "https://example.com/"
    finally:
        await _stop(again)


async def test_serve_on_redis_over_tls_with_a_password(client: aiohttp.ClientSession, tmp_path: Path) -> None:
    with running_redis(password=PASSWORD, tls=True) as url:
        assert url.startswith("rediss://")
        proc, port = await _start(url, tmp_path)
        try:
            sid = await _create(client, port)
            assert (await _describe(client, port, sid))["id"] == sid
        finally:
            await _stop(proc)


async def _refused(store: str, data_dir: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*_argv(free_port(), store, data_dir), cwd=ROOT, env=_env(),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"cobrowse listening" not in out
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_serve_stops_at_once_when_redis_cannot_be_reached(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    status, err = await _refused(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", tmp_path)
    assert status != 0
    assert f"redis://:***@127.0.0.1:{port}/0" in err and "cannot be reached" in err
    assert PASSWORD not in err


async def test_serve_stops_when_redis_refuses_the_password(auth_redis_url: str, tmp_path: Path) -> None:
    wrong = auth_redis_url.replace(PASSWORD, "not-the-password")
    status, err = await _refused(wrong, tmp_path)
    assert status != 0 and "redis://:***@127.0.0.1:" in err
    assert "not-the-password" not in err and PASSWORD not in err


async def test_serve_refuses_a_store_it_does_not_know(tmp_path: Path) -> None:
    status, err = await _refused("postgres://u:pw@db/1", tmp_path)
    assert status != 0 and "expected memory or redis://" in err and "pw@" not in err


async def test_two_clients_on_one_redis_share_sessions_claims_and_updates(redis_url: str) -> None:
    """What several processes will rely on: two stores on one namespace see one state."""
    namespace = f"cobrowse-shared-{uuid.uuid4().hex}:"
    one = RedisStore.from_url(redis_url, namespace=namespace, forget_on_close=True)
    two = RedisStore.from_url(redis_url, namespace=namespace)
    try:
        await one.add(_session("s1", NOW))
        got = await two.get("s1")
        assert got is not None and got.controller == "p-s1"
        body = fingerprint({"url": "https://example.com/"})
        assert (await one.claim_idempotency("k", body, NOW)).outcome is Outcome.NEW
        assert (await two.claim_idempotency("k", body, NOW)).outcome is Outcome.PENDING

        def bump(session: Session) -> None:
            session.options = replace(session.options, max_followers=(session.options.max_followers or 0) + 1)

        async def fifty(store: RedisStore) -> None:
            for _ in range(50):
                await store.update("s1", bump)

        await asyncio.gather(fifty(one), fifty(two))
        final = await one.get("s1")
        assert final is not None and final.options.max_followers == 100
    finally:
        await two.close()
        await one.close()
