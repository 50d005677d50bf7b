"""Proxy overhead: requests/s and p50/p99 latency through cobrowse vs straight to the target.

Run from the repository root:  python bench/bench_proxy.py [--seconds 5] [--rounds 5] [--conc 16]

Three processes: the target (a small aiohttp app serving a 100-byte and a 200 KB asset), the
cobrowse server (its resolver maps ``bench.test:80`` to the target), and this load generator.
Each round drives ``--conc`` keep-alive connections for ``--seconds`` against one URL, first
directly, then through the proxy (with a leader's participant cookie), so both are measured
in the same run on the same machine. Figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "cobrowse.localhost"

TARGET = textwrap.dedent("""
    import sys
    from aiohttp import web
    small = b"x" * 100
    big = bytes(range(256)) * 800
    async def s(request): return web.Response(body=small, content_type="application/octet-stream")
    async def b(request): return web.Response(body=big, content_type="application/octet-stream")
    app = web.Application()
    app.add_routes([web.get("/small", s), web.get("/big", b)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


async def load(url: str, host: str, cookie: str, conc: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    headers = {"Host": host}
    if cookie:
        headers["Cookie"] = cookie
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as client:
        async def worker() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with client.get(url, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{url} answered {resp.status}")
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def open_session(port: int) -> tuple[str, str]:
    """Create a session on bench.test and redeem its leader ticket: (proxy host, cookie)."""
    control = f"http://127.0.0.1:{port}"
    host = {"Host": f"{DOMAIN}:{port}"}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{control}/api/v1/sessions",
                               headers={**host, "Authorization": "Bearer bench-key"},
                               json={"url": "http://bench.test/small", "agent": {"id": "b", "name": "Bench"}}) as r:
            created = await r.json()
        path = created["leader_url"].split(f"{DOMAIN}:{port}", 1)[1]
        async with client.get(control + path, headers=host, allow_redirects=False) as r:
            cookie = r.headers["Set-Cookie"].split(";", 1)[0]
            location = r.headers["Location"]
    proxy_host = location.split("//", 1)[1].split("/", 1)[0]
    return proxy_host, cookie


ASSETS = ("small", "big")
Run = tuple[str, str, str]  # (URL, Host header, Cookie header)


async def compare(args: argparse.Namespace, runs_for: Callable[[str], dict[str, Run]],
                  column: str) -> dict[str, dict[str, float]]:
    """For each asset, ``args.rounds`` rounds of every run in turn (same machine, same run);
    prints the table of medians (``column`` names the runs) and returns it, keyed asset/run."""
    results: dict[str, dict[str, list[float]]] = {}
    for asset in ASSETS:
        runs = runs_for(asset)
        for name in runs:
            results[f"{asset}/{name}"] = {"rps": [], "p50": [], "p99": []}
        for _ in range(args.rounds):
            for name, (url, host, cred) in runs.items():
                rps, lat = await load(url, host, cred, args.conc, args.seconds)
                entry = results[f"{asset}/{name}"]
                entry["rps"].append(rps)
                entry["p50"].append(pct(lat, 0.50))
                entry["p99"].append(pct(lat, 0.99))
    print(f"| asset | {column} | req/s | p50 ms | p99 ms |   ({args.rounds} rounds x {args.seconds:g} s, "
          f"{args.conc} connections, medians)")
    print("| --- | --- | ---: | ---: | ---: |")
    summary: dict[str, dict[str, float]] = {}
    for key, entry in results.items():
        asset, name = key.split("/")
        med = {k: statistics.median(v) for k, v in entry.items()}
        summary[key] = med
        print(f"| {asset} | {name} | {med['rps']:.0f} | {med['p50']:.2f} | {med['p99']:.2f} |")
    return summary


async def measure(args: argparse.Namespace, target_port: int, proxy_port: int) -> None:
    await wait_port(target_port)
    await wait_port(proxy_port)
    proxy_host, cookie = await open_session(proxy_port)
    summary = await compare(args, lambda asset: {
        "direct": (f"http://127.0.0.1:{target_port}/{asset}", "bench.test", ""),
        "proxy": (f"http://127.0.0.1:{proxy_port}/{asset}", proxy_host, cookie),
    }, "path")
    for asset in ASSETS:
        ratio = summary[f"{asset}/proxy"]["rps"] / summary[f"{asset}/direct"]["rps"]
        print(f"{asset}: proxy throughput = {ratio:.2f} x direct")
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conc", type=int, default=16)
    args = parser.parse_args()

    target_port, proxy_port = free_port(), free_port()
    env = {**os.environ, "COBROWSE_API_KEY": "bench-key"}
    procs = [
        subprocess.Popen([sys.executable, "-c", TARGET, str(target_port)]),
        # --no-audit: the proxy alone, as before the audit trail (its cost: bench_audit.py)
        subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--port", str(proxy_port), "--no-audit",
                          "--resolve", f"bench.test:80=127.0.0.1:{target_port}", "--log-level", "warning"],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
    ]
    try:
        asyncio.run(measure(args, target_port, proxy_port))
    finally:
        stop(procs)


def stop(procs: list[subprocess.Popen[bytes]], timeout: float = 5.0) -> None:
    """Interrupt every process (a clean stop), then kill what has not exited in ``timeout``."""
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
