"""Throughput of the per-request path: cobrowse vs a bare aiohttp pass-through vs direct, with wrk.

Run from the repository root:  python bench/bench_throughput.py [--seconds 5] [--rounds 5] [--conc 16]

Four processes besides wrk (a C load generator, so the generator is not what is measured): the
target (a small aiohttp app serving a 100-byte asset, a 200 KB asset and a 150 KB HTML page),
a bare aiohttp pass-through (an ``aiohttp.web`` server whose handler forwards the request with
one ``aiohttp.ClientSession`` and streams the answer back: the floor any aiohttp proxy stands
on), and the cobrowse server (no audit trail; its resolver maps ``bench.test:80`` to the target;
the requests carry a leader's participant cookie, so every one is admitted, rewritten, sent
with the jar, recorded for fetch-once and, for the page, rewritten and given the runtime).

Each round runs every (resource, path) pair once, in turn, so the three paths are measured in the
same run under the same machine state. Printed per pair: requests/s median and range over the
rounds, p50 and p99 latency medians (wrk's own percentiles); then cobrowse's ratio to the
pass-through, median and range of the per-round ratios. ``--json`` adds the raw figures.
``--cobrowse-arg`` passes a flag to ``cobrowse serve``; ``--baseline DIR`` measures the cobrowse of
another tree beside this one (before/after in one run). Each run opens a new session (``--no-fresh``:
one for all), so what the session's response store holds does not grow from run to run. The
servers' logs are discarded: wrk cuts its connections with requests in flight when a run ends,
and each such cut is logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from bench_proxy import free_port, open_session, stop

ROOT = Path(__file__).resolve().parent.parent

TARGET = textwrap.dedent("""
    import sys
    from aiohttp import web
    small = b"x" * 100
    big = bytes(range(256)) * 800
    # A page shaped like a real one: links, images with srcset, inline styles, a script, ~150 KB.
    block = ('<div class="post" style="background:url(/img/bg.png)"><h2><a href="/article/{i}">Article {i}</a>'
             '</h2><img src="https://cdn.bench.test/i/{i}.jpg" srcset="/i/{i}-2x.jpg 2x" alt="">'
             '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut '
             'labore et dolore magna aliqua. <a href="http://bench.test/tag/{i}?x=1">tag</a> Ut enim ad minim '
             'veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p></div>\\n')
    body = "".join(block.format(i=i) for i in range(300))
    page = ('<!doctype html><html><head><meta charset="utf-8"><title>Bench</title>'
            '<link rel="stylesheet" href="/site.css"><script src="/app.js"></script>'
            '<script>var config = {api: "/api", n: 3}; function go() { return config.n; }</script></head>'
            '<body>' + body + '</body></html>').encode()
    async def s(request): return web.Response(body=small, content_type="application/octet-stream")
    async def b(request): return web.Response(body=big, content_type="application/octet-stream")
    async def p(request): return web.Response(body=page, content_type="text/html", charset="utf-8")
    app = web.Application()
    app.add_routes([web.get("/small", s), web.get("/big", b), web.get("/page", p)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")

# The floor: aiohttp server + aiohttp client, streaming, end-to-end headers only.
PASS_THROUGH = textwrap.dedent("""
    import sys
    import aiohttp
    from aiohttp import web
    target = sys.argv[2]
    HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "host"}
    async def client_ctx(app):
        async with aiohttp.ClientSession(auto_decompress=False) as client:
            app["client"] = client
            yield
    async def forward(request):
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP]
        async with request.app["client"].request(request.method, target + request.rel_url.raw_path_qs,
                                                 headers=headers, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP:
                    response.headers.add(k, v)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response
    app = web.Application()
    app.cleanup_ctx.append(client_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")

# What a browser's page load says about itself: the page is fetched as a document.
RESOURCES = {
    "100 B asset": ("/small", ()),
    "200 KB asset": ("/big", ()),
    "150 KB HTML page": ("/page", ("Sec-Fetch-Dest: document", "Sec-Fetch-Mode: navigate")),
}
PASS = "aiohttp pass-through"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, headers: list[str], conc: int, seconds: float, server: int | None) -> dict[str, float]:
    """One wrk run: requests/s and the p50/p99 latency (ms) it reports, and the CPU time the
    ``server`` process spent per request (µs; 0 without one); non-2xx answers fail the run."""
    cpu = _cpu_seconds(server)
    argv = ["wrk", "-t2", f"-c{conc}", f"-d{seconds:g}s", "--timeout", "10s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(server) - cpu
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors (or 10 s without an answer) on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    lat = {q: _ms(re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)) for q in ("50", "99")}
    count = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "cpu": cpu / count * 1e6}


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``): what a request costs the
    server, whatever else the machine is doing (requests/s are shared with every other load)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        raise RuntimeError("wrk printed no latency distribution")
    return float(match[1]) * _UNITS[match[2]]


@dataclass(slots=True)
class Way:
    """One way to the target: its port, its server process, and what a request to it carries."""

    port: int
    process: subprocess.Popen[bytes]
    host: str = "bench.test"
    cookie: str = ""
    cobrowse: bool = False


Runs = dict[str, dict[str, list[dict[str, float]]]]  # resource -> path name -> one entry per round


def measure(args: argparse.Namespace, paths: dict[str, Way]) -> Runs:
    asyncio.run(_sessions(paths))
    runs: Runs = {r: {name: [] for name in paths} for r in RESOURCES}
    for _ in range(args.rounds):
        for resource, (url_path, extra) in RESOURCES.items():
            for name, way in paths.items():
                if way.cobrowse and args.fresh:
                    way.host, way.cookie = asyncio.run(open_session(way.port))
                headers = [f"Host: {way.host}", *extra] + ([f"Cookie: {way.cookie}"] if way.cookie else [])
                runs[resource][name].append(run_wrk(f"http://127.0.0.1:{way.port}{url_path}", headers, args.conc,
                                                    args.seconds, way.process.pid))
    return runs


async def _sessions(paths: dict[str, Way]) -> None:
    """Wait for every server; open a session (as its leader) on each cobrowse."""
    for way in paths.values():
        await _listening(way)
    for way in paths.values():
        if way.cobrowse:
            way.host, way.cookie = await open_session(way.port)


async def _listening(way: Way, seconds: float = 120) -> None:
    """Wait for a server to listen (a loaded machine starts cobrowse slowly); fail if it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and way.process.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", way.port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{way.process.args!r} is not listening on {way.port} (exit status {way.process.poll()})")


def report(args: argparse.Namespace, runs: Runs) -> None:
    print(f"| resource | path | req/s median (range) | p50 ms | p99 ms | server CPU µs/req |   "
          f"({args.rounds} rounds x {args.seconds:g} s, wrk -t2 -c{args.conc}, medians)")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for resource, by_path in runs.items():
        for name, rounds in by_path.items():
            rps = [r["rps"] for r in rounds]
            print(f"| {resource} | {name} | {statistics.median(rps):.0f} ({min(rps):.0f}-{max(rps):.0f}) | "
                  f"{statistics.median(r['p50'] for r in rounds):.2f} | "
                  f"{statistics.median(r['p99'] for r in rounds):.2f} | "
                  f"{statistics.median(r['cpu'] for r in rounds):.0f} |")
    print()
    for resource, by_path in runs.items():
        for name in (n for n in by_path if n.startswith("cobrowse")):
            ratios = [c["rps"] / p["rps"] for c, p in zip(by_path[name], by_path[PASS], strict=True)]
            print(f"{resource}: {name} = {statistics.median(ratios):.2f}x the pass-through "
                  f"(rounds {min(ratios):.2f}-{max(ratios):.2f})")
    if args.json:
        print(json.dumps(runs))


def cobrowse(root: Path, port: int, target_port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    """``cobrowse serve`` from the tree at ``root``, without the audit trail, sending bench.test to the target."""
    env = {**os.environ, "COBROWSE_API_KEY": "bench-key"}
    return subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), "--no-audit",
                             "--resolve", f"bench.test:80=127.0.0.1:{target_port}", "--log-level", "warning",
                             *extra], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conc", type=int, default=16)
    parser.add_argument("--cobrowse-arg", action="append", default=[], help="a flag for cobrowse serve")
    parser.add_argument("--baseline", type=Path, help="also measure the cobrowse in this tree (e.g. an older "
                                                      "commit's `git archive`), as 'cobrowse before'")
    parser.add_argument("--fresh", action=argparse.BooleanOptionalAction, default=True,
                        help="a new session for each run, so each starts with an empty response store, as a "
                             "visit does (--no-fresh: one session for the whole bench, its store ever fuller)")
    parser.add_argument("--json", action="store_true", help="also print every run's figures as JSON")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_throughput needs wrk on PATH (Debian: apt-get install wrk)")

    target_port = free_port()
    paths: dict[str, Way] = {}
    try:
        paths["direct"] = Way(target_port, subprocess.Popen([sys.executable, "-c", TARGET, str(target_port)]))
        port = free_port()
        paths[PASS] = Way(port, subprocess.Popen([sys.executable, "-c", PASS_THROUGH, str(port),
                                                    f"http://127.0.0.1:{target_port}"], stderr=subprocess.DEVNULL))
        if args.baseline is not None:
            port = free_port()
            paths["cobrowse before"] = Way(port, cobrowse(args.baseline.resolve(), port, target_port,
                                                            args.cobrowse_arg), cobrowse=True)
        port = free_port()
        paths["cobrowse"] = Way(port, cobrowse(ROOT, port, target_port, args.cobrowse_arg), cobrowse=True)
        report(args, measure(args, paths))
    finally:
        stop([way.process for way in paths.values()])


if __name__ == "__main__":
    main()
