"""The response store on its own, in process: CPU per driver entry and per follower request, on
``MemoryShared`` and on ``RedisShared``, as a session's entries grow.

Run from the repository root:  python bench/bench_response_store.py [--entries 200,1000] [--redis URL]

For each size N: the driver records N responses of 2 KB (begin, append, finish: what
``proxy.exchange`` does for a small body), then a follower is served each one (match, then the
body streamed). Figures are the process's CPU time (``time.process_time``) per entry and per
follower request, which the machine's other load changes little; Redis is a ``redis-server``
started here (``tests/redis_server.py``) unless ``--redis`` names one (a namespace per size).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_responses import redis_at  # noqa: E402

from proxy.redis_shared import RedisShared  # noqa: E402
from sessions.matching import key_for  # noqa: E402
from sessions.responses import Head, ResponseStore  # noqa: E402
from sessions.shared import MemoryShared, Shared  # noqa: E402

HEAD = Head(200, "OK", (("Content-Type", "image/png"), ("Cache-Control", "no-cache")), "https://www.example.com/")


async def one(shared: Shared, entries: int) -> tuple[float, float]:
    store = ResponseStore(shared, "bench")
    keys = [key_for("GET", f"https://www.example.com/static/chunk-{n % 300}.{n}.js?v=3") for n in range(entries)]
    started = time.process_time()
    for key in keys:
        entry = await store.begin("d", key, HEAD, raw=True)
        await store.append(entry, b"x" * 2048)
        await store.finish(entry)
    driver = (time.process_time() - started) / entries
    started = time.process_time()
    for key in keys:
        served = await store.match("f", key, 0)
        assert served is not None
        assert len(b"".join([chunk async for chunk in store.stream(served)])) == 2048
    return driver, (time.process_time() - started) / entries


async def main(args: argparse.Namespace, redis_url: str) -> None:
    print("| backend | entries | driver µs/entry | follower µs/request |")
    print("| --- | ---: | ---: | ---: |")
    for entries in args.entries:
        for name in ("memory", "redis"):
            shared: Shared = MemoryShared() if name == "memory" else RedisShared.from_url(
                redis_url, f"bench-{uuid.uuid4().hex[:8]}:")
            try:
                driver, follower = await one(shared, entries)
            finally:
                await shared.close()
            print(f"| {name} | {entries} | {driver * 1e6:.0f} | {follower * 1e6:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=lambda text: [int(n) for n in text.split(",")], default=[200, 1000])
    parser.add_argument("--redis", default=None, help="a running Redis (default: start one)")
    arguments = parser.parse_args()
    with redis_at(arguments.redis) as url:
        asyncio.run(main(arguments, url))
