"""Sync relay figures: one process on the in-memory store against two processes on one Redis.

Run from the repository root:
    python bench/bench_relay_cluster.py [--sessions 4,16] [--rate 20] [--seconds 10]

Processes: one ``python -m proxy.cli serve`` on memory, then two on one ``redis-server`` (Debian's,
started here on a free port, no persistence) with the same secret key; and this script, whose
scripted sync clients (no browser) play every participant. Each session has a leader and two
followers. On memory all three sockets are on the one process; on Redis the leader's socket is on
one process and both followers' on the other (alternating per session), so every message crosses
processes through Redis.

First, in this process: the cost of one relayed ``input`` (3 greeted sockets) for a relay kept
alive as an object against one rebuilt from its text through ``MemoryShared`` (``proxy.relay_rooms``:
what every message costs on the in-memory store), median of rounds.

Each leader sends ``input`` messages at ``--rate`` per second for ``--seconds``; the time from
the leader's send to each follower's receipt is taken on this process's clock (loopback, so it is
the server's receive-relay-deliver time plus the clients' own scheduling). Relayed messages per
second counts the deliveries to followers over the sending window. Errors: a message that never
arrived, or any socket closed early.
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
from cobrowse_process import running
from sync_parties import create_session, participant_cookie, pct

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import running_redis  # the tests' real redis-server fixture

PAGE = "/play"
SETTLE = 2.0  # seconds after the last send for late messages


class Follower:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, sent: dict[int, float]) -> None:
        self.ws, self.sent = ws, sent
        self.latencies: list[float] = []
        self.seen: set[int] = set()
        self.closed_early = False

    async def read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            msg = json.loads(frame.data)
            if msg.get("type") == "input":
                seq = int(msg["value"])
                self.latencies.append((time.perf_counter() - self.sent[seq]) * 1000)
                self.seen.add(seq)
        self.closed_early = True


async def connect(client: aiohttp.ClientSession, port: int, cookie: str,
                  origin: str) -> aiohttp.ClientWebSocketResponse:
    """A sync socket on ``port`` from the participant's own proxy origin, welcomed."""
    ws = await client.ws_connect(f"http://127.0.0.1:{port}/__cb/sync", headers={
        "Host": urlsplit(origin).netloc, "Origin": origin, "Cookie": cookie})
    await ws.send_json({"type": "hello", "page": secrets.token_hex(8), "window": "main",
                        "url": "http://shop.bench" + PAGE, "last": 0, "vw": 1200, "vh": 800})
    while True:
        frame = await ws.receive()
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the sync socket closed before its welcome ({ws.close_code})")
        if json.loads(frame.data).get("type") == "welcome":
            return ws


async def one_session(client: aiohttp.ClientSession, lead_port: int, follow_port: int, rate: float,
                      seconds: float, ready: asyncio.Event, start: asyncio.Event) -> dict[str, Any]:
    """One session's run; a session that could not be set up is counted as failed (``error``)."""
    try:
        return await _session(client, lead_port, follow_port, rate, seconds, ready, start)
    except (RuntimeError, aiohttp.ClientError) as exc:
        ready.set()
        return {"error": str(exc)}


async def _session(client: aiohttp.ClientSession, lead_port: int, follow_port: int, rate: float,
                   seconds: float, ready: asyncio.Event, start: asyncio.Event) -> dict[str, Any]:
    created = await create_session(lead_port, PAGE)
    lead_cookie, origin = await participant_cookie(client, lead_port, created["leader_url"], join=False)
    joined = [await participant_cookie(client, follow_port, created["follower_url"], join=True) for _ in range(2)]
    lead = await connect(client, lead_port, lead_cookie, origin)
    sent: dict[int, float] = {}
    followers = [Follower(await connect(client, follow_port, cookie, own), sent) for cookie, own in joined]
    readers = [asyncio.ensure_future(f.read()) for f in followers]
    drain = asyncio.ensure_future(_drain(lead))
    ready.set()
    await start.wait()
    count = int(rate * seconds)
    began = time.perf_counter()
    for seq in range(1, count + 1):
        await asyncio.sleep(max(0.0, began + seq / rate - time.perf_counter()))
        sent[seq] = time.perf_counter()
        await lead.send_str(json.dumps({"type": "input", "seq": seq, "target": ["#f", "input:1"],
                                        "value": str(seq), "sel": [1, 1]}))
    window = time.perf_counter() - began
    await asyncio.sleep(SETTLE)
    closed_early = any(f.closed_early for f in followers) or lead.closed
    for ws in (lead, *(f.ws for f in followers)):
        await ws.close()
    for task in (*readers, drain):
        task.cancel()
    return {"sent": count, "window": window, "latencies": [ms for f in followers for ms in f.latencies],
            "missing": sum(count - len(f.seen) for f in followers), "closed_early": closed_early}


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


async def run(ports: tuple[int, int], sessions: int, rate: float, seconds: float) -> dict[str, Any]:
    start = asyncio.Event()
    ready = [asyncio.Event() for _ in range(sessions)]
    # No pool limit: every session holds three sockets open for the whole run.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        tasks = [asyncio.ensure_future(one_session(client, ports[i % 2], ports[(i + 1) % 2], rate, seconds,
                                                   ready[i], start)) for i in range(sessions)]
        set_up = asyncio.gather(*(event.wait() for event in ready))
        await asyncio.wait([set_up, *tasks], return_when=asyncio.FIRST_COMPLETED)  # all set up, or one failed
        start.set()
        outcomes = await asyncio.gather(*tasks)
    results = [r for r in outcomes if "error" not in r]
    if not results:
        raise RuntimeError(f"no session could be set up: {outcomes[0]['error']}")
    latencies = [ms for r in results for ms in r["latencies"]]
    window = max(r["window"] for r in results)
    return {"sessions": sessions, "delivered_per_s": len(latencies) / window,
            "p50": pct(latencies, 0.5) if latencies else 0.0, "p99": pct(latencies, 0.99) if latencies else 0.0,
            "missing": sum(r["missing"] for r in results),
            "closed_early": sum(1 for r in results if r["closed_early"]), "failed": len(outcomes) - len(results)}


async def cost_per_message(messages: int = 2000, rounds: int = 5) -> tuple[float, float]:
    """µs per relayed input: (relay kept alive, relay rebuilt through MemoryShared)."""
    from proxy.relay_rooms import RelayRooms
    from sessions.credentials import Signer
    from sessions.protocol import Inbound
    from sessions.relay import Member, Relay
    from sessions.service import SessionService
    from sessions.shared import MemoryShared
    from sessions.store import MemoryStore

    session = (await SessionService(MemoryStore(), Signer(b"k" * 32)).create(
        "http://example.com/", "a1", "Ann", time.time())).session
    members = [Member(session.leader_id, "leader", "A"), Member("pF", "follower", "B"), Member("pG", "follower", "C")]
    rooms = RelayRooms(MemoryShared())
    alive = Relay(session.id, session.leader_id, session.leader_id, session.target_url)

    def greet(relay: Relay, i: int) -> Any:
        relay.open(f"c{i}", members[i], "http://example.com", members)
        return relay.receive(f"c{i}", Inbound("hello", 0, {"page": f"p{i}", "window": "main",
                                                           "url": session.target_url, "last": 0}), time.time())
    for i in range(3):
        greet(alive, i)
        await rooms.apply(session.id, lambda r, i=i: greet(r, i), expires_at=session.expires_at, fresh=session)

    def message(k: int) -> Inbound:
        return Inbound("input", k, {"target": ["#f", "input:1"], "value": str(k), "sel": [1, 1]})
    kept, rebuilt, seq = [], [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        for k in range(seq + 1, seq + messages + 1):
            alive.receive("c0", message(k), time.time())
        kept.append((time.perf_counter() - began) / messages * 1e6)
        began = time.perf_counter()
        for k in range(seq + 1, seq + messages + 1):
            await rooms.apply(session.id, lambda r, k=k: r.receive("c0", message(k), time.time()),
                              expires_at=session.expires_at)
        rebuilt.append((time.perf_counter() - began) / messages * 1e6)
        seq += messages
    return pct(kept, 0.5), pct(rebuilt, 0.5)


async def wait_port(port: int, within: float = 90.0) -> None:
    """Wait for a server to listen (a loaded machine takes many seconds to start one)."""
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listening on {port} after {within:g} s") from None
            await asyncio.sleep(0.1)


async def measure(counts: list[int], rate: float, seconds: float,
                  setups: list[str]) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    port = free_port()
    if "memory" in setups:
        with running(port, "--log-level", "warning"):
            await wait_port(port)
            for n in counts:
                rows.append(("1 process, memory", await run((port, port), n, rate, seconds)))
    if "redis" not in setups:
        return rows
    with running_redis() as url:
        a, b = free_port(), free_port()
        with running(a, "--store", url, "--log-level", "warning"), running(b, "--store", url, "--log-level", "warning"):
            await wait_port(a)
            await wait_port(b)
            for n in counts:
                rows.append(("2 processes, Redis", await run((a, b), n, rate, seconds)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="4,16")
    parser.add_argument("--rate", type=float, default=20.0, help="leader messages per second per session")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--setups", default="memory,redis", help="memory (one process), redis (two processes)")
    args = parser.parse_args()
    os.environ["COBROWSE_SECRET_KEY"] = secrets.token_urlsafe(32)  # the same in every process
    load = os.getloadavg()[0]
    setups = args.setups.split(",")
    kept, rebuilt = asyncio.run(cost_per_message()) if "redis" in setups else (0.0, 0.0)
    rows = asyncio.run(measure([int(n) for n in args.sessions.split(",")], args.rate, args.seconds, setups))
    print(f"\nload average (1 min) at start {load:.2f}, at end {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    print(f"one relayed input, in process: relay kept alive {kept:.1f} µs, rebuilt through MemoryShared "
          f"{rebuilt:.1f} µs\n")
    print(f"each leader {args.rate:g} input/s for {args.seconds:g} s; 2 followers per session\n")
    print("| setup | sessions | delivered msgs/s | p50 ms | p99 ms | missing | sessions with a socket closed "
          "| sessions not set up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        print(f"| {name} | {r['sessions']} | {r['delivered_per_s']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
              f"| {r['missing']} | {r['closed_early']} | {r['failed']} |")


if __name__ == "__main__":
    main()
