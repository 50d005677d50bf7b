"""API keys and site keys: made, listed and revoked with ``cobrowse keys``, kept hashed, used by a live server.

The pure ring (``sessions.apikeys``) is tested as a script; the file store and the CLI on a real
data dir; the server (``proxy.api_auth.caller``) over HTTP, seeing keys the CLI made or revoked
while it runs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from world.apikeys import create_key, run_keys
from world.harness import StartCobrowse

from proxy.api_auth import SCOPES, flush_usage, site_key
from proxy.api_keyfile import KEY_FILE, FileKeyStore
from sessions.apikeys import KeyRing, KeyStore, MemoryKeyStore, normalize_origin, split_token

SESSIONS = "/api/v1/sessions"


def _listed(data_dir: Path) -> dict[str, dict[str, Any]]:
    """``cobrowse keys list --json`` by key name."""
    rows = [json.loads(line) for line in run_keys(data_dir, "list", "--json").out.splitlines()]
    return {row["name"]: row for row in rows}


def test_a_ring_matches_the_issued_token_only_and_never_keeps_it() -> None:
    ring, issued = KeyRing().issue("ci", "api", 100.0, scopes=["sessions:read"])
    token = issued.token
    assert ring.match(token, "api") == issued.key
    assert token not in ring.dump() and issued.key.digest in ring.dump()
    assert ring.match(token[:-1] + ("A" if token[-1] != "A" else "B"), "api") is None  # same id, wrong secret
    assert ring.match(token, "site") is None  # the kind is part of the token
    assert ring.match("", "api") is None and ring.match("cbk_x", "api") is None
    assert KeyRing.parse(ring.dump()) == ring
    revoked = ring.revoke(issued.key.id, 200.0)
    assert revoked.match(token, "api") is None and revoked.keys[issued.key.id].revoked_at == 200.0


def test_site_keys_name_their_origins_and_are_never_api_keys() -> None:
    ring, issued = KeyRing().issue("shop", "site", 1.0, origins=["https://Shop.Example:443/", "http://a.test:8080"])
    assert issued.key.origins == ("https://shop.example", "http://a.test:8080")
    assert split_token(issued.token) == ("site", issued.key.id)
    assert ring.match(issued.token, "api") is None and ring.match(issued.token, "site") == issued.key
    for bad in [{"scopes": ["sessions:read"], "origins": ["https://a.test"]}, {}]:
        with pytest.raises(ValueError, match="site key"):
            KeyRing().issue("shop", "site", 1.0, **bad)
    with pytest.raises(ValueError, match="path"):
        normalize_origin("https://a.test/shop")
    with pytest.raises(ValueError, match="scheme"):
        normalize_origin("a.test")


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> KeyStore:
    """Every key store backend, for the one contract below (Redis joins here when it lands)."""
    return MemoryKeyStore() if request.param == "memory" else FileKeyStore(tmp_path)


def test_every_key_store_keeps_the_contract(store: KeyStore) -> None:
    assert store.ring().keys == {}
    issued = []

    def issue(ring: KeyRing) -> KeyRing:
        ring, made = ring.issue("ci", "api", 1.0, scopes=["sessions:read"])
        issued.append(made)
        return ring

    stored = store.update(issue)
    assert store.ring() == stored and stored.match(issued[0].token, "api") == issued[0].key
    assert store.update(lambda ring: ring) == stored  # no change, same keys
    store.update(issue)
    assert len(store.ring().keys) == 2  # the second update started from the first's ring
    store.update(lambda ring: ring.revoke(issued[0].key.id, 2.0))
    assert store.ring().match(issued[0].token, "api") is None
    assert store.ring().match(issued[1].token, "api") == issued[1].key
    store.update(lambda ring: ring.touched({issued[1].key.id: 3.0}))
    assert store.ring().keys[issued[1].key.id].last_used_at == 3.0
    with pytest.raises(KeyError):
        store.update(lambda ring: ring.revoke("nosuchkey", 4.0))


def test_the_key_file_is_private_replaced_whole_and_seen_by_another_store(tmp_path: Path) -> None:
    server_view, cli_view = FileKeyStore(tmp_path), FileKeyStore(tmp_path)
    assert server_view.ring().keys == {}
    made: list[str] = []

    def issue(ring: KeyRing) -> KeyRing:
        ring, issued = ring.issue("ci", "api", 1.0, scopes=["sessions:read"])
        made.append(issued.token)
        return ring

    cli_view.update(issue)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made[0] not in path.read_text()
    assert server_view.ring().match(made[0], "api") is not None  # no restart, no reload call
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".new")] == []
    path.write_text("{broken")
    assert server_view.ring().keys == {}  # fails closed: a damaged file grants nothing


def _issue_many(data_dir: str, count: int) -> None:
    store = FileKeyStore(data_dir)
    for _ in range(count):
        store.update(lambda ring: ring.issue("parallel", "api", 1.0, scopes=["sessions:read"])[0])


def test_writers_in_parallel_processes_lose_none_of_each_others_keys(tmp_path: Path) -> None:
    """The flock'd read-modify-write: four processes making ten keys each leave forty."""
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_issue_many, args=(str(tmp_path), 10)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(FileKeyStore(tmp_path).ring().keys) == 40


def test_cli_creates_lists_and_revokes_keys(tmp_path: Path) -> None:
    token = create_key(tmp_path, "helpdesk", "--scope", "sessions:read", "--scope", "audit:read")
    assert token.startswith("cbk_")
    site = create_key(tmp_path, "shop", "--site", "--origin", "https://shop.example")
    assert site.startswith("cbsk_")
    everything = create_key(tmp_path, "admin")
    assert token not in (tmp_path / KEY_FILE).read_text()

    by_name = _listed(tmp_path)
    assert by_name["helpdesk"]["scopes"] == ["sessions:read", "audit:read"]
    assert by_name["shop"]["kind"] == "site" and by_name["shop"]["origins"] == ["https://shop.example"]
    assert by_name["admin"]["scopes"] == list(SCOPES) and "digest" not in by_name["admin"]
    del everything
    table = run_keys(tmp_path, "list").out
    assert "helpdesk" in table and "LAST USED" in table and token not in table

    key_id = split_token(token)
    assert key_id is not None
    assert run_keys(tmp_path, "revoke", key_id[1]).status == 0
    revoked = _listed(tmp_path)
    assert revoked["helpdesk"]["revoked_at"] is not None and revoked["admin"]["revoked_at"] is None
    missing = run_keys(tmp_path, "revoke", "nosuchkey")
    assert missing.status == 1 and "no key" in missing.err
    refused = run_keys(tmp_path, "create", "bad", "--site")
    assert refused.status == 2 and "origin" in refused.err


async def test_a_running_server_takes_cli_keys_by_scope_and_drops_revoked_ones_at_once(
        start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(data_dir=str(tmp_path))
    reader = create_key(tmp_path, "reader", "--scope", "sessions:read")
    writer = create_key(tmp_path, "writer", "--scope", "sessions:write")
    body = {"url": "https://example.com/", "agent": {"id": "a", "name": "A"}}

    created = await server.api("POST", SESSIONS, body, key=writer)
    assert created.status == 201, created.text
    sid = json.loads(created.body)["id"]
    assert (await server.api("GET", f"{SESSIONS}/{sid}", key=reader)).status == 200
    refused = await server.api("POST", SESSIONS, body, key=reader)
    assert refused.status == 403 and (refused.header("Content-Type") or "").startswith("application/problem+json")
    assert "sessions:write" in json.loads(refused.body)["detail"]

    reader_id = split_token(reader)
    assert reader_id is not None
    assert run_keys(tmp_path, "revoke", reader_id[1]).status == 0
    gone = await server.api("GET", f"{SESSIONS}/{sid}", key=reader)
    assert gone.status == 401 and gone.header("WWW-Authenticate") == 'Bearer realm="cobrowse"'
    assert (await server.api("GET", f"{SESSIONS}/{sid}", key=writer)).status == 403  # writer still known
    assert (await server.api("GET", f"{SESSIONS}/{sid}")).status == 200  # the server's own key: every scope

    await flush_usage(server.runner.app)
    rows = _listed(tmp_path)
    assert rows["writer"]["last_used_at"] is not None and rows["reader"]["last_used_at"] is not None
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600


async def test_site_keys_are_refused_as_api_keys_and_found_by_site_key(
        start_server: StartCobrowse, tmp_path: Path) -> None:
    server = await start_server(data_dir=str(tmp_path))
    token = create_key(tmp_path, "shop", "--site", "--origin", "https://shop.example")
    assert (await server.api("GET", f"{SESSIONS}/x", key=token)).status == 401
    found = site_key(server.runner.app, token)
    assert found is not None and found.allows("https://shop.example") and not found.allows("https://evil.example")
    api = create_key(tmp_path, "api", "--scope", "sessions:read")
    assert site_key(server.runner.app, api) is None and site_key(server.runner.app, "") is None
