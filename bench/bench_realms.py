"""Cost of arming a fresh realm: an ``about:blank`` iframe inserted by page script.

Run from the repository root:
    python bench/bench_realms.py [--rounds 7] [--frames 40]

The runtime arms every same-origin realm a page creates (``static/runtime/85-realms.js``)
before page script can use it. This times what page script feels: ``appendChild`` of an
``about:blank`` iframe followed by a read of its ``contentWindow.open`` (the read that would
escape if the realm were not armed), ``--frames`` times per round, in one headless Chromium:

- baseline: the same page loaded directly from the target server (no proxy, no runtime);
- cobrowse: the page loaded through a cobrowse server started in this process (the runtime
  arms each frame on insertion).

Each round's figure is the median per-frame time; the report gives the median over rounds
and the spread (min..max of the round medians) for both, and their difference.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.app import build_app  # noqa: E402
from proxy.config import Config  # noqa: E402
from proxy.serving import make_runner  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
HOST = "realms.bench"
API_KEY = "bench-key"
PAGE = "<!doctype html><html><head><title>realms</title></head><body><p>realms</p></body></html>"

TIME_FRAMES_JS = """(n) => {
  const times = [];
  let armed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const f = document.createElement('iframe');
    document.body.appendChild(f);
    if (typeof f.contentWindow.open !== 'function') throw new Error('no open');
    times.push(performance.now() - t0);
    armed += '__cbRuntime' in f.contentWindow ? 1 : 0;
    f.remove();
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(times.length / 2)], armed];
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(app: web.Application, port: int) -> web.AppRunner:
    runner = make_runner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()

    target = web.Application()
    target.router.add_get("/", lambda _: web.Response(text=PAGE, content_type="text/html"))
    target_port = free_port()
    proxy_port = free_port()
    runners = [await serve(target, target_port)]
    config = Config(port=proxy_port, api_key=API_KEY, allow_private=True,
                    resolve_overrides={f"{HOST}:80": ("127.0.0.1", target_port)})
    runners.append(await serve(build_app(config), proxy_port))
    create = {"url": f"http://{HOST}/"}
    headers = {"Authorization": f"Bearer {API_KEY}", "Host": f"{config.domain}:{proxy_port}"}
    async with aiohttp.ClientSession() as client, client.post(
            f"http://127.0.0.1:{proxy_port}/api/v1/sessions", json=create, headers=headers) as resp:
        leader_url = (await resp.json())["leader_url"]
    results: dict[str, list[float]] = {"baseline": [], "cobrowse": []}
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1:{target_port}"])
            context = await browser.new_context()
            direct, proxied = await context.new_page(), await context.new_page()
            await direct.goto(f"http://{HOST}/")
            await proxied.goto(leader_url)
            for _ in range(args.rounds):
                for name, page in (("baseline", direct), ("cobrowse", proxied)):
                    median, armed = await page.evaluate(TIME_FRAMES_JS, args.frames)
                    if armed != (args.frames if name == "cobrowse" else 0):
                        raise SystemExit(f"{name}: {armed} of {args.frames} frames armed")
                    results[name].append(median)
            await browser.close()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
    print(f"insert + read contentWindow.open of one about:blank iframe, median of {args.frames} per round, "
          f"{args.rounds} rounds (ms):")
    print("| page | median | min | max |")
    print("| --- | --- | --- | --- |")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    added = statistics.median(results["cobrowse"]) - statistics.median(results["baseline"])
    print(f"added by arming: {added:.2f} ms per realm")


if __name__ == "__main__":
    asyncio.run(main())
