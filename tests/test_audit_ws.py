"""Target WebSockets in the audit trail: the driver's socket (``upstream``) and a follower's copy
(``store``) each leave a ``websocket`` open and close event, the close with the messages and
bytes each way (up: what that participant's browser sent), and no message content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_fetch_once import TARGET, Target, add_follower, target  # noqa: F401  (fixture)
from world.harness import start_cobrowse, stop_cobrowse
from world.until import until

from proxy.cli import main


def trail(tmp_path: Path, sid: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", sid, "--format", "jsonl", "-o", str(out), "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    return [json.loads(line)["record"] for line in out.read_text("utf-8").splitlines()]


async def test_socket_open_and_close_with_counts_for_the_driver_and_the_follower(
        target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    server = await start_cobrowse(resolve_overrides={f"{TARGET}:80": ("127.0.0.1", target.port)},
                                  data_dir=str(tmp_path), follower_wait=3.0)
    try:
        created = await server.create_session(f"http://{TARGET}/page")
        sid = created["id"]
        await server.redeem(created["leader_url"])
        leader_cookies = dict(server.cookies)
        _, follower_cookies = await add_follower(server, sid)
        host = server.proxy_url(sid, TARGET, "/ws").split("/")[2]
        base = f"http://127.0.0.1:{server.port}/ws"

        def headers(who: dict[str, str]) -> dict[str, str]:
            return {"Host": host, "Origin": f"http://{host}",
                    "Cookie": "; ".join(f"{k}={v}" for k, v in who.items())}

        async with server.client.ws_connect(base, headers=headers(leader_cookies)) as leader:
            assert (await leader.receive_str(timeout=5)) == "welcome"
            async with server.client.ws_connect(base, headers=headers(follower_cookies)) as follower:
                assert (await follower.receive_str(timeout=5)) == "welcome"
                await follower.send_str("forged!")
                await leader.send_str("hi")
                assert (await leader.receive_str(timeout=5)) == "echo hi"
                assert (await follower.receive_str(timeout=5)) == "echo hi"

        async def both_closed() -> list[dict[str, Any]]:
            closes = [r for r in trail(tmp_path, sid, capsys)
                      if r["kind"] == "event" and r["name"] == "websocket" and r["detail"]["phase"] == "close"]
            return closes if len(closes) == 2 else []

        # A positive fence: both closes written (the writer syncs at least every second).
        await until(both_closed, "both WebSocket closes are in the trail")
    finally:
        await stop_cobrowse(server)
    records = trail(tmp_path, sid, capsys)
    sockets = [r["detail"] for r in records if r["kind"] == "event" and r["name"] == "websocket"]
    url = f"http://{TARGET}/ws"
    assert sorted((d["phase"], d["path"], d["url"]) for d in sockets) == [
        ("close", "store", url), ("close", "upstream", url), ("open", "store", url), ("open", "upstream", url)]
    closes = {d["path"]: d for d in sockets if d["phase"] == "close"}
    counts = ("up_messages", "up_bytes", "down_messages", "down_bytes")
    assert [closes["upstream"][k] for k in counts] == ["1", "2", "2", "14"]  # "hi"; "welcome", "echo hi"
    assert [closes["store"][k] for k in counts] == ["1", "7", "2", "14"]  # "forged!" went nowhere
    assert b"forged!" not in (tmp_path / "export.jsonl").read_bytes()
