"""Fetch once, follower side: proxied requests/s a follower is served from the response store,
on the memory backend and on Redis, in the same run, with wrk.

Run from the repository root:  python bench/bench_responses.py [--seconds 5] [--rounds 3] [--conc 16]
                               [--redis redis://127.0.0.1:6379/0]

Processes besides wrk: the target (an aiohttp app: a 2 KB image and a 20 KB HTML page, both
``Cache-Control: max-age=3600``), a ``redis-server`` (started here on a free port, no
persistence, unless ``--redis`` names one: the server's default namespace is used) and two
cobrowse servers, ``--store memory`` and ``--store <redis URL>`` (no audit trail). On each, a
session is made, its leader loads both resources once (one target hit each) and a follower
joins. wrk then sends the follower's requests: each is matched in the response store (one
claim transaction; the driver's copy is used up, and the driver's browser would reuse it, so
it is served at once), its body read from the store, and, for the page, rewritten for the
follower. The target sees no more hits (checked at the end). Rounds alternate the backends, so
both are measured under the same machine state; figures are medians over the rounds.

``--driver`` adds the leader's own requests (each goes upstream and is recorded: begin, append,
finish on the shared state) in a second session per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from bench_proxy import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "cobrowse.localhost"
sys.path.insert(0, str(ROOT / "tests"))

TARGET = textwrap.dedent("""
    import sys
    from collections import Counter
    from aiohttp import web
    hits = Counter()
    image = bytes(range(256)) * 8
    page = ('<!doctype html><html><head><title>Bench</title><link rel="stylesheet" href="/site.css"></head><body>'
            + ''.join(f'<p><a href="/article/{i}">Article {i}</a> <img src="/i/{i}.png"></p>' for i in range(400))
            + '</body></html>').encode()
    CACHED = {"Cache-Control": "max-age=3600"}
    async def asset(request):
        hits[request.path] += 1
        return web.Response(body=image, content_type="image/png", headers=CACHED)
    async def html(request):
        hits[request.path] += 1
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=CACHED)
    async def count(request):
        return web.json_response(dict(hits))
    app = web.Application()
    app.add_routes([web.get("/asset", asset), web.get("/page", html), web.get("/hits", count)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")

RESOURCES = ("/asset", "/page")


def wrk(url: str, headers: list[str], conc: int, seconds: float, pid: int) -> dict[str, float]:
    """requests/s, p50 and p99 (ms) as wrk reports them, and the server's CPU µs per request
    (``/proc/<pid>/stat``: a cost the machine's other load does not change); errors fail the run."""
    before = _cpu(pid)
    argv = ["wrk", "-t2", f"-c{conc}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
            *(a for h in headers for a in ("-H", h)), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    spent = _cpu(pid) - before
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")

    def number(pattern: str) -> re.Match[str]:
        found = re.search(pattern, out, re.M)
        if found is None:
            raise RuntimeError(f"no {pattern!r} in wrk's output:\n{out}")
        return found

    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p50, p99 = (number(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$") for q in ("50", "99"))
    count = int(number(r"(\d+) requests in")[1])
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(number(r"Requests/sec:\s+([\d.]+)")[1]), "p50": float(p50[1]) * scale[p50[2]],
            "p99": float(p99[1]) * scale[p99[2]], "cpu": spent / max(count, 1) * 1e6,
            "errors": sum(int(n) for n in errors.groups()) if errors else 0}


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def redis_at(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from redis_server import running_redis  # tests/redis_server.py: Debian's redis-server on a free port
    with running_redis() as started:
        yield started


async def _participants(port: int, driver_paths: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """A session whose leader has loaded ``driver_paths``, and a follower: name -> (Host, Cookie)."""
    control, host = f"http://127.0.0.1:{port}", {"Host": f"{DOMAIN}:{port}"}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{control}/api/v1/sessions", headers={**host, "Authorization": "Bearer bench-key"},
                               json={"url": "http://bench.test/page", "agent": {"id": "b", "name": "Bench"}}) as r:
            created = await r.json()
        path = created["leader_url"].split(f"{DOMAIN}:{port}", 1)[1]
        async with client.get(control + path, headers=host, allow_redirects=False) as r:
            leader = (r.headers["Location"].split("//", 1)[1].split("/", 1)[0], r.headers["Set-Cookie"].split(";")[0])
        for resource in driver_paths:
            async with client.get(control + resource, headers={"Host": leader[0], "Cookie": leader[1]}) as r:
                assert r.status == 200, f"leader's {resource}: {r.status}"
                await r.read()
        invitation = created["follower_url"].split("invitation=", 1)[1].split("&", 1)[0]
        async with client.post(f"{control}/join/{created['id']}", headers=host, allow_redirects=False,
                               data={"invitation": invitation, "name": "Vic"}) as r:
            assert r.status == 303, f"join: {r.status}"
            follower = (r.headers["Location"].split("//", 1)[1].split("/", 1)[0],
                        r.headers["Set-Cookie"].split(";")[0])
    return {"leader": leader, "follower": follower}


async def _hits(port: int) -> dict[str, int]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/hits") as r:
        hits: dict[str, int] = await r.json()
        return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conc", type=int, default=16)
    parser.add_argument("--redis", default=None, help="a running Redis (default: start one)")
    parser.add_argument("--log", default=os.devnull, help="where the servers' logs go")
    parser.add_argument("--driver", action="store_true", help="also time the leader's own (upstream) requests")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_responses needs wrk on PATH (Debian: apt-get install wrk)")
    target_port = free_port()
    env = {**os.environ, "COBROWSE_API_KEY": "bench-key"}
    with redis_at(args.redis) as redis_url, open(args.log, "ab") as log:
        stores = {"memory": "memory", "redis": redis_url}
        ports = {name: free_port() for name in stores}
        procs = [subprocess.Popen([sys.executable, "-c", TARGET, str(target_port)])]
        servers: dict[str, int] = {}
        for name, store in stores.items():
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "proxy.cli", "serve", "--port", str(ports[name]), "--no-audit",
                 "--store", store, "--resolve", f"bench.test:80=127.0.0.1:{target_port}", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log))
            servers[name] = procs[-1].pid
        try:
            run(args, ports, servers, target_port)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)


def run(args: argparse.Namespace, ports: dict[str, int], servers: dict[str, int], target_port: int) -> None:
    async def ready() -> dict[str, dict[str, dict[str, tuple[str, str]]]]:
        for port in (*ports.values(), target_port):
            for attempt in range(6):  # a server starts in ~10 s on a loaded machine; one wait_port is 10 s
                try:
                    await wait_port(port)
                    break
                except RuntimeError:
                    if attempt == 5:
                        raise
        parties = {name: {"served": await _participants(port, RESOURCES)} for name, port in ports.items()}
        if args.driver:
            for name, port in ports.items():
                parties[name]["driver"] = await _participants(port, ())
        return parties

    parties = asyncio.run(ready())
    rows = [(who, resource) for who in (("follower",) + (("driver",) if args.driver else ())) for resource in RESOURCES]
    runs: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for who, resource in rows:
            for name, port in ports.items():
                session, role = ("served", "follower") if who == "follower" else ("driver", "leader")
                host, cookie = parties[name][session][role]
                figures = wrk(f"http://127.0.0.1:{port}{resource}", [f"Host: {host}", f"Cookie: {cookie}"],
                              args.conc, args.seconds, servers[name])
                runs.setdefault((who, resource, name), []).append(figures)
                print(who, resource, name, figures, file=sys.stderr)
    hits = asyncio.run(_hits(target_port))
    print(f"| requests | resource | store | req/s median (range) | p50 ms | p99 ms | server CPU µs/req "
          f"| socket errors |   ({args.rounds} rounds x {args.seconds:g} s, wrk -t2 -c{args.conc})")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (who, resource, name), rounds in runs.items():
        rps = [r["rps"] for r in rounds]
        print(f"| {who} | {resource} | {name} | {statistics.median(rps):.0f} ({min(rps):.0f}-{max(rps):.0f}) | "
              f"{statistics.median(r['p50'] for r in rounds):.2f} | "
              f"{statistics.median(r['p99'] for r in rounds):.2f} | "
              f"{statistics.median(r['cpu'] for r in rounds):.0f} | {sum(r['errors'] for r in rounds):.0f} |")
    once = not args.driver and hits == {r: len(ports) for r in RESOURCES}
    print(f"\ntarget hits: {hits}" + ("  (one per resource per backend: the followers' requests added none)"
                                        if once else ""))


if __name__ == "__main__":
    main()
