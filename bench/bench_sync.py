"""Co-browsing figures: sync latency, bytes sent to a follower, upstream requests per visit.

Run from the repository root:
    python bench/bench_sync.py [--actions 240] [--followers 1,5] [--pace-ms 150] [--relay-messages 1000]

Processes: the cobrowse server (``python -m proxy.cli serve``, its resolver maps ``shop.bench:80``
to the target), one headless Chromium (``/usr/bin/chromium`` through Playwright, one browser
context per participant), and this script, which also serves the target site
(``bench/sync_site.py``) and counts every request it answers.

1. Latency (``sync_latency.py``): the leader acts with real input on ``/play`` (keystrokes,
   checkbox clicks, select changes, wheel scrolls, clicks that change the DOM); the pages
   themselves stamp the action in the leader and its application in each follower, on the
   same clock (``performance.timeOrigin + performance.now()``), not the WebSocket frame times.
2. Bytes. Each follower's sync socket frames (Playwright ``framereceived``, payload bytes after
   any WebSocket compression is undone) beside the response body bytes its browser loaded from
   the proxy (``Request.sizes()``), per minute of the run.
3. Upstream requests. One scripted visit (pages with images and a stylesheet, ``fetch`` calls with
   ``Date.now()`` and ``Math.random()`` cache busters, a form posted and answered with a 303) with
   0, 1 and 5 followers, each in a fresh session; the target's counts must be equal.
4. The relay's share. Raw WebSocket clients (no browser) in this process: a leader socket sends
   ``input`` messages one at a time and follower sockets receive them; send -> receive on one
   clock is the server's receive-relay-send time plus loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from bench_proxy import free_port, wait_port
from cobrowse_process import running
from playwright.async_api import Browser, async_playwright
from sync_latency import KINDS, latency_run
from sync_parties import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TARGET,
    close_all,
    create_session,
    participant_cookie,
    pct,
    start_session,
)
from sync_site import RIDS, Hits, build_site

# -- 2 and 3. the scripted visit ------------------------------------------------------------------


async def visit(browser: Browser, port: int, hits: Hits, followers: int) -> dict[str, Any]:
    hits.clear()
    # Counted from the start: the follower's first page load and its welcome are part of the visit.
    started = time.monotonic()
    leader, crowd = await start_session(browser, port, "/", followers)
    everyone = (leader, *crowd)

    async def all_at(path: str, extra: str = "true") -> None:
        try:
            await asyncio.gather(*(p.wait_at(path, extra) for p in everyone))
        except Exception as exc:
            states = "\n".join([await p.describe() for p in everyone])
            raise RuntimeError(f"not every participant reached {path} ({extra}):\n{states}") from exc

    try:
        page = leader.page
        await page.click("#to-feed")
        await all_at("/feed", "document.body.dataset.loaded === 'yes'")
        await page.click("#to-play")
        await all_at("/play")
        await page.click("#t")
        await page.keyboard.type("hello from the agent", delay=60)
        await page.click("#c")
        await page.select_option("#s", "c")
        for _ in range(3):
            await page.click("#add")
            await asyncio.sleep(0.1)
        await page.mouse.move(600, 500)
        for dy in (400, 400, -800):
            await page.mouse.wheel(0, dy)
            await asyncio.sleep(0.2)
        await asyncio.gather(*(p.wait("() => document.querySelectorAll('#list li').length === 3") for p in crowd))
        await page.click("#to-order")
        await all_at("/order")
        await page.click("#who")
        await page.keyboard.type("Ann Example", delay=60)
        await page.select_option("#ship", "courier")
        await page.click("#buy")
        await all_at("/thanks", "!!document.getElementById('done')")
        await page.click("#to-feed")
        await all_at("/feed", "document.body.dataset.loaded === 'yes'")
        await page.click("#to-home")
        await all_at("/")
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.0)
        result: dict[str, Any] = {"followers": followers, "hits": hits.snapshot(), "total": hits.total,
                                  "seconds": elapsed}
        if crowd:
            first = crowd[0]
            result.update(sync_in=first.sync_in, frames_in=first.frames_in, sync_out=first.sync_out,
                          page_bytes=await first.page_bytes(), leader_page_bytes=await leader.page_bytes())
        return result
    finally:
        await close_all(everyone)


# -- 4. the relay's share, with raw sockets -------------------------------------------------------


async def relay_run(port: int, followers: int, messages: int) -> dict[str, Any]:
    created = await create_session(port, "/play")
    async with aiohttp.ClientSession() as client:
        lead_cookie, origin = await participant_cookie(client, port, created["leader_url"], join=False)
        cookies = [await participant_cookie(client, port, created["follower_url"], join=True)
                   for _ in range(followers)]

        async def connect(cookie: str) -> aiohttp.ClientWebSocketResponse:
            ws = await client.ws_connect(f"http://127.0.0.1:{port}/__cb/sync", headers={
                "Host": urlsplit(origin).netloc, "Origin": origin, "Cookie": cookie})
            await ws.send_json({"type": "hello", "page": secrets.token_hex(8), "window": "main",
                                "url": TARGET + "/play", "last": 0, "vw": 1200, "vh": 800})
            while (await ws.receive_json()).get("type") != "welcome":
                pass
            return ws

        lead = await connect(lead_cookie)
        crowd = [await connect(c) for c, _ in cookies]

        async def arrival(ws: aiohttp.ClientWebSocketResponse, seq: int) -> float:
            while True:
                msg = await ws.receive_json()
                if msg.get("type") == "input" and msg.get("value") == str(seq):
                    return time.perf_counter()

        first: list[float] = []
        last: list[float] = []
        for seq in range(1, messages + 1):
            waits = [asyncio.ensure_future(arrival(ws, seq)) for ws in crowd]
            t0 = time.perf_counter()
            await lead.send_str(json.dumps({"type": "input", "seq": seq, "target": ["#f", "input:1"],
                                            "value": str(seq), "sel": [1, 1]}))
            times = await asyncio.gather(*waits)
            first.append((min(times) - t0) * 1000)
            last.append((max(times) - t0) * 1000)
            await asyncio.sleep(0.01)  # stay under the protocol's 200 messages/s
        for ws in (lead, *crowd):
            await ws.close()
    return {"followers": followers, "first": first, "last": last}


# -- the run -------------------------------------------------------------------------------------


def row(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"| {name} | 0 | | | | |"
    return (f"| {name} | {len(values)} | {min(values):.1f} | {pct(values, 0.5):.1f} | {pct(values, 0.99):.1f} "
            f"| {max(values):.1f} |")


def report(args: argparse.Namespace, lat: list[dict[str, Any]], visits: list[dict[str, Any]],
           relay: list[dict[str, Any]], load: tuple[float, float]) -> None:
    out = print
    out(f"\nload average (1 min) at start {load[0]:.2f}, at end {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs\n")
    out("Latency, leader action -> applied in follower (ms)\n")
    out("| followers: actions of kind | samples | min | p50 | p99 | max |")
    out("| --- | ---: | ---: | ---: | ---: | ---: |")
    for run in lat:
        n = run["followers"]
        out(row(f"**{n}: all kinds**", run["all"]))
        out(row(f"{n}: all but scroll", [ms for k, v in run["per_kind"].items() if k != "scroll" for ms in v]))
        for kind in KINDS:
            out(row(f"{n}: {kind}", run["per_kind"].get(kind, [])))
        if run["last"]:
            out(row(f"{n}: slowest follower per action", run["last"]))
    for run in lat:
        out(f"\n{run['followers']} follower(s): {run['actions']} actions in {run['seconds']:.1f} s, "
            f"{run['stamped']} stamped in the leader, {run['applied']} applications seen in followers, "
            f"{run['missing']} not seen applied.")
        for i, detail in enumerate(run["followers_detail"], 1):
            if detail["missing"] or detail["loads"]:
                out(f"  follower {i}: {detail['missing']} not seen applied, {detail['loads']} page loads "
                    f"during the run, runtime counters {json.dumps(detail['counters'])}")
    out("\nBytes to one follower (median follower)\n")
    out("| run | seconds | sync frames in | sync bytes in | sync KB/min in | sync KB/min out | page KB | page KB/min |")
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in lat:
        per = 60 / run["seconds"]
        out(f"| latency, {run['followers']} follower(s) | {run['seconds']:.1f} | {run['frames_in']:.0f} "
            f"| {run['sync_in']:.0f} | {run['sync_in'] * per / 1024:.1f} | {run['sync_out'] * per / 1024:.1f} "
            f"| (one page) | |")
    for run in visits:
        if run["followers"] == 1 and "stalled" not in run:
            per = 60 / run["seconds"]
            out(f"| scripted visit, 1 follower | {run['seconds']:.1f} | {run['frames_in']} | {run['sync_in']} "
                f"| {run['sync_in'] * per / 1024:.1f} | {run['sync_out'] * per / 1024:.1f} "
                f"| {run['page_bytes'] / 1024:.1f} | {run['page_bytes'] * per / 1024:.1f} |")
    out("\nUpstream requests for the scripted visit\n")
    out("| followers | requests at the target |")
    out("| ---: | ---: |")
    for run in visits:
        stalled = f" (stalled: {run['stalled']})" if "stalled" in run else ""
        out(f"| {run['followers']} | {run['total']}{stalled} |")
    same = all(run["hits"] == visits[0]["hits"] for run in visits)
    out(f"\nper (method, path) identical across runs: {same}")
    out(json.dumps(visits[0]["hits"] if visits else {}))
    if not same:
        for run in visits:
            out(f"{run['followers']}: {json.dumps(run['hits'])}")
    if relay:
        out("\nRelay share: raw sockets, leader send -> follower receive (ms)\n")
        out("| followers | messages | min | p50 | p99 | max |")
        out("| --- | ---: | ---: | ---: | ---: | ---: |")
        for run in relay:
            out(row(f"{run['followers']} (first follower)", run["first"]))
            if run["followers"] > 1:
                out(row(f"{run['followers']} (last follower)", run["last"]))


async def measure(args: argparse.Namespace, target_port: int, proxy_port: int) -> None:
    load = os.getloadavg()
    hits = Hits()
    runner = web.AppRunner(build_site(hits, args.rid), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", target_port).start()
    await wait_port(proxy_port)
    lat: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []
    relay: list[dict[str, Any]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(args))
            try:
                for n in args.visit_followers:
                    try:
                        visits.append(await visit(browser, proxy_port, hits, n))
                    except RuntimeError as exc:  # a follower stuck: say where, and go on
                        print(exc, flush=True)
                        visits.append({"followers": n, "hits": hits.snapshot(), "total": hits.total,
                                       "stalled": str(exc).splitlines()[0]})
                    print(f"visit with {n} follower(s): {visits[-1]['total']} upstream requests", flush=True)
                for n in args.followers:
                    lat.append(await latency_run(browser, proxy_port, n, args.actions, args.pace_ms / 1000))
                    print(f"latency with {n} follower(s): p50 {pct(lat[-1]['all'], 0.5):.1f} ms", flush=True)
            finally:
                await browser.close()
        for n in args.followers if args.relay_messages else ():
            relay.append(await relay_run(proxy_port, n, args.relay_messages))
    finally:
        await runner.cleanup()
    report(args, lat, visits, relay, load)


def chromium_args(args: argparse.Namespace) -> list[str]:
    return CHROMIUM_ARGS + ([] if args.smooth_scrolling else ["--disable-smooth-scrolling"])


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--actions", type=int, default=240, help="leader actions per latency run")
    parser.add_argument("--followers", type=ints, default=[1, 5], help="followers per latency run")
    parser.add_argument("--visit-followers", type=ints, default=[0, 1, 5], help="followers per scripted visit")
    parser.add_argument("--pace-ms", type=float, default=150.0, help="pause after each leader action")
    parser.add_argument("--relay-messages", type=int, default=1000, help="raw relay round trips (0: skip)")
    # Without it a wheel notch is a ~150 ms scroll animation in the leader: browser time, not sync.
    parser.add_argument("--smooth-scrolling", action="store_true",
                        help="keep Chromium's smooth scrolling (default: --disable-smooth-scrolling)")
    parser.add_argument("--rid", choices=sorted(RIDS), default="decimal",
                        help="how /feed makes its request id from Math.random()")
    parser.add_argument("--server-log", default="warning", help="the cobrowse server's --log-level")
    args = parser.parse_args()

    target_port, proxy_port = free_port(), free_port()
    with running(proxy_port, "--resolve", f"shop.bench:80=127.0.0.1:{target_port}", "--log-level", args.server_log):
        asyncio.run(measure(args, target_port, proxy_port))


if __name__ == "__main__":
    main()
