"""Proxied requests per second: one process on memory against two processes on Redis behind HAProxy.

Run from the repository root (needs Debian's ``wrk``, ``haproxy`` and ``redis-server``):
    .venv/bin/python bench/bench_cluster_proxy.py [--seconds 10] [--body 100]

The set-up is the tests' (``tests/cluster.py``: ``cobrowse serve`` processes, HAProxy from
``deploy/haproxy.cfg``, a real ``redis-server``); this script serves the target site, one small
asset of ``--body`` bytes (``application/octet-stream``: nothing to rewrite), in its own event
loop. For each setup and load, sessions are created through the balancer and their leader links
redeemed; then ``wrk`` (C; one thread per session, with its Host and participant cookie, ``LOADS``:
16 sessions with one connection each, and one session with 16) fetches the asset as each leader,
the driver, so every request is a real exchange: admission, the cookie jar, the target fetched,
the answer recorded for followers in the session's response store (in Redis for the Redis setups).

Setups, one after the other in one run:
- memory, 1 process, direct: wrk to the process itself (no balancer);
- memory, 1 process, HAProxy: the same behind the balancer (what the balancer costs);
- redis, 1 process, HAProxy: the store and the shared state in Redis (what Redis costs);
- redis, 2 processes, HAProxy: round-robin per request between two processes.
Every process, the balancer, Redis, the target and wrk share this machine's CPUs: the figures
say what the machine holds as a whole, not what one more machine would add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cluster import Cluster, haproxy_missing, running_cluster
from world.harness import cookies_from
from world.hits import HitLog, hit_middleware

HOST = "bench.test"
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_P = {p: re.compile(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", re.M) for p in (50, 99)}
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def target_factory(body: bytes) -> Any:
    def make(log: HitLog, host: str) -> web.Application:
        async def asset(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/octet-stream",
                                headers={"Cache-Control": "no-store"})

        app = web.Application(middlewares=[hit_middleware(log, host)])
        app.router.add_get("/asset", asset)
        return app

    return make


async def leader_request(cluster: Cluster) -> tuple[str, str]:
    """A new session's asset URL path and host as its leader sees them, and the leader's cookies."""
    created = await cluster.front.create_session(f"http://{HOST}/asset")
    reply = await cluster.front.request("GET", created["leader_url"], cookies={})
    assert reply.status == 302, reply.text[:300]
    host = urlsplit(reply.header("Location") or "").netloc
    return host, "; ".join(f"{k}={v}" for k, v in cookies_from(reply.headers).items())


# One wrk thread per session (its own connection, Host and participant cookie): setup() hands each
# thread the next session, request() sends that session's request.
_LUA = """
local sessions = {%s}
local next_one = 0
function setup(thread)
  next_one = next_one + 1
  thread:set("host", sessions[next_one][1])
  thread:set("cookie", sessions[next_one][2])
end
function request()
  return wrk.format("GET", "/asset", {["Host"] = host, ["Cookie"] = cookie})
end
"""


def lua_for(sessions: Sequence[tuple[str, str]]) -> str:
    quoted = ", ".join(f"{{{json.dumps(host)}, {json.dumps(cookie)}}}" for host, cookie in sessions)
    return _LUA % quoted


async def wrk(port: int, sessions: Sequence[tuple[str, str]], per_session: int, seconds: float,
              workdir: Path) -> dict[str, float]:
    """wrk against ``sessions``: one thread each, ``per_session`` connections each."""
    script = workdir / "sessions.lua"
    script.write_text(lua_for(sessions))
    proc = await asyncio.create_subprocess_exec(
        "wrk", f"-t{len(sessions)}", f"-c{len(sessions) * per_session}", f"-d{seconds:g}s", "--latency",
        "-s", str(script), f"http://127.0.0.1:{port}/asset",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    rate = _RATE.search(out)
    if rate is None:
        raise RuntimeError(f"wrk said:\n{out}")
    found: dict[str, float] = {"rps": float(rate.group(1))}
    for p, pattern in _P.items():
        match = pattern.search(out)
        found[f"p{p}"] = float(match.group(1)) * _UNIT_MS[match.group(2)] if match else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    found["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    return found


SETUPS: Sequence[tuple[str, int, tuple[str, ...], bool]] = (
    ("memory, 1 process, direct", 1, ("--store", "memory"), True),
    ("memory, 1 process, HAProxy", 1, ("--store", "memory"), False),
    ("redis, 1 process, HAProxy", 1, (), False),
    ("redis, 2 processes, HAProxy", 2, (), False),
)


# (sessions, connections per session): many sessions with one request at a time each (as many
# visitors), and one session whose browser opens several connections at once (a page's assets).
LOADS: Sequence[tuple[int, int]] = ((16, 1), (1, 16))


async def main(args: argparse.Namespace) -> None:
    missing = haproxy_missing() or ("" if shutil.which("wrk") else "wrk is not installed (apt-get install wrk)")
    if missing:
        raise SystemExit(missing)
    apps = {HOST: target_factory(b"x" * args.body)}
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cobrowse-bench-") as tmp:
        for name, nodes, extra, direct in SETUPS:
            async with running_cluster(apps, nodes=nodes, extra=("--log-level", "warning", *extra)) as cluster:
                port = cluster.nodes[0].port if direct else cluster.balancer.port
                for count, per_session in LOADS:
                    sessions = [await leader_request(cluster) for _ in range(count)]
                    await wrk(port, sessions, per_session, 2, Path(tmp))  # warm-up
                    before = sum(1 for h in cluster.world.log if h.path == "/asset")
                    found = await wrk(port, sessions, per_session, args.seconds, Path(tmp))
                    hits = sum(1 for h in cluster.world.log if h.path == "/asset") - before
                    rows.append((name, f"{count} x {per_session}", found, hits))
                    print(f"{name} {count}x{per_session}: {found}", file=sys.stderr)
    print(f"\nload average (1 min) at start {load:.2f}, at end {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    print(f"wrk -d{args.seconds:g}s --latency, one thread per session; a {args.body}-byte asset fetched by each "
          "session's leader\n")
    print("| setup | sessions x connections | requests/s | p50 ms | p99 ms | errors | target hits |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, shape, found, hits in rows:
        print(f"| {name} | {shape} | {found['rps']:.0f} | {found['p50']:.1f} | {found['p99']:.1f} "
              f"| {found['errors']:.0f} | {hits} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--body", type=int, default=100, help="bytes of the asset")
    asyncio.run(main(parser.parse_args()))
