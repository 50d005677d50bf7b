"""What a session costs the server process: memory per idle session, CPU per relayed message.

Run from the repository root:
    .venv/bin/python bench/bench_idle_sessions.py [--sessions 300] [--followers 5] [--messages 2000]

The cobrowse server runs in its own process (``bench/cobrowse_process.py``, the in-memory store);
this script plays every participant with raw sync sockets (no browser), as
``bench_sync.relay_run`` does. Memory: the server's resident set (``/proc/<pid>/status``
``VmRSS``) after start, after ``--sessions`` sessions are created (the leader link redeemed, a
follower joined), and after each of them has its leader's and its follower's sync socket open
and welcomed, then idle; per session = the growth / sessions. CPU: one more session with
``--followers`` followers; the leader sends ``--messages`` ``input`` messages (paced under the
protocol's rate cap), each awaited in every follower; the server's user+system CPU time over the
run (``/proc/<pid>/stat``) per message sent and per delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from bench_proxy import free_port
from cobrowse_process import ROOT, running, up
from sync_parties import TARGET, create_session, participant_cookie

Socket = aiohttp.ClientWebSocketResponse
LOST_AFTER_S = 5.0  # a delivery not seen by then is counted lost (and the run goes on)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def connect(client: aiohttp.ClientSession, port: int, cookie: str, origin: str) -> Socket:
    ws = await client.ws_connect(f"http://127.0.0.1:{port}/__cb/sync", headers={
        "Host": urlsplit(origin).netloc, "Origin": origin, "Cookie": cookie})
    await ws.send_json({"type": "hello", "page": secrets.token_hex(8), "window": "main",
                        "url": TARGET + "/play", "last": 0, "vw": 1200, "vh": 800})
    while (await ws.receive_json()).get("type") != "welcome":
        pass
    return ws


async def party(client: aiohttp.ClientSession, port: int, followers: int) -> list[tuple[str, str]]:
    """A new session: (cookie, origin) of its leader, then of each follower."""
    created = await create_session(port, "/play")
    people = [await participant_cookie(client, port, created["leader_url"], join=False)]
    for _ in range(followers):
        people.append(await participant_cookie(client, port, created["follower_url"], join=True))
    return people


async def settle(pid: int) -> int:
    await asyncio.sleep(1.0)  # let the server finish what the last replies started
    return rss_kib(pid)


async def memory(port: int, pid: int, sessions: int) -> dict[str, float]:
    # No pool limit: every open socket holds one connection (aiohttp's default pool stops at 100).
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        start = await settle(pid)
        everyone = [await party(client, port, 1) for _ in range(sessions)]
        created = await settle(pid)
        sockets = [await connect(client, port, cookie, origin) for people in everyone for cookie, origin in people]
        connected = await settle(pid)
        for ws in sockets:
            await ws.close()
    return {"start": start, "created": (created - start) / sessions, "connected": (connected - start) / sessions}


async def relay_cpu(port: int, pid: int, followers: int, messages: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as client:
        people = await party(client, port, followers)
        lead, *crowd = [await connect(client, port, cookie, origin) for cookie, origin in people]

        async def arrival(ws: Socket, seq: int) -> None:
            while True:
                msg = await ws.receive_json()
                if msg.get("type") == "input" and msg.get("value") == str(seq):
                    return

        before, t0 = cpu_seconds(pid), time.perf_counter()
        lost = 0
        for seq in range(1, messages + 1):
            waits = [asyncio.ensure_future(arrival(ws, seq)) for ws in crowd]
            await lead.send_str(json.dumps({"type": "input", "seq": seq, "target": ["#f", "input:1"],
                                            "value": str(seq), "sel": [1, 1]}))
            _, missing = await asyncio.wait(waits, timeout=LOST_AFTER_S)
            for wait in missing:
                wait.cancel()
            lost += len(missing)
            await asyncio.sleep(0.006)  # under the protocol's 200 messages/s
        cpu, wall = cpu_seconds(pid) - before, time.perf_counter() - t0 - lost * LOST_AFTER_S
        for ws in (lead, *crowd):
            await ws.close()
    return {"cpu_s": cpu, "wall_s": wall, "lost": lost, "per_message_us": cpu / messages * 1e6,
            "per_delivery_us": cpu / (messages * followers) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--followers", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--checkout", default=str(ROOT), help="the checkout whose server runs (default: this one)")
    args = parser.parse_args()
    port = free_port()

    async def run(pid: int) -> tuple[dict[str, float], dict[str, Any]]:
        await up(port)
        return await memory(port, pid, args.sessions), await relay_cpu(port, pid, args.followers, args.messages)

    with running(port, "--resolve", f"{urlsplit(TARGET).hostname}:80=127.0.0.1:9", "--log-level", "error",
                 "--no-audit", "--api-rate", "10000", "--api-burst", "10000", cwd=Path(args.checkout)) as server:
        load = os.getloadavg()[0]
        mem, cpu = asyncio.run(run(server.pid))
        print("measured", file=sys.stderr)
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}; server RSS at start {mem['start'] / 1024:.1f} MiB\n")
    print("| what | per session |")
    print("| --- | ---: |")
    print(f"| created (leader link redeemed, one follower joined), no socket | {mem['created']:.1f} KiB |")
    print(f"| and both participants' sync sockets open, idle | {mem['connected']:.1f} KiB |")
    print(f"\nRelay CPU, 1 leader -> {args.followers} followers, {args.messages} input messages: "
          f"{cpu['cpu_s']:.2f} s CPU in {cpu['wall_s']:.1f} s; **{cpu['per_message_us']:.0f} us per message** "
          f"({cpu['per_delivery_us']:.0f} us per delivery); "
          f"deliveries not seen within {LOST_AFTER_S:.0f} s: {cpu['lost']}")


if __name__ == "__main__":
    main()
