"""Cost of integration events: what ``proxy.audit.event`` adds on the request path, and how fast
one webhook's ordered deliveries go to a receiver on loopback.

Run from the repository root:  python bench/bench_webhooks.py [--events 2000] [--rounds 5]

One process, everything real: a cobrowse app on the CLI's runner, a webhook receiver (aiohttp on
loopback) that checks each signature, and a webhook registered through the API. Each round
publishes ``--events`` events (``participant.joined`` of one session, through ``proxy.audit.event``
as the handlers do) and measures:

- the CPU time of those calls (the hot path: id, queue; the trail is off), and of as many
  events integrators do not get (``navigation``: dropped at the first check),
- the time until the receiver has verified every one, in order (one delivery in flight per
  webhook, as the design requires), as deliveries per second,
- the latency of a single event on an idle server, from ``audit.event`` to the receiver's check.

Figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from world.harness import start_cobrowse, stop_cobrowse  # noqa: E402
from world.webhook_receiver import start_receiver  # noqa: E402

from proxy import audit  # noqa: E402
from proxy.keys import HOOKS  # noqa: E402
from sessions.webhook_state import Limits  # noqa: E402


async def run(events: int, rounds: int) -> dict[str, float]:
    server = await start_cobrowse()  # no data dir: the audit trail is off, so the figures are the bus alone
    receiver = await start_receiver()
    publish_us, quiet_us, rates, latencies = [], [], [], []
    try:
        reply = await server.api("POST", "/api/v1/webhooks", {"url": receiver.url})
        receiver.secret = json.loads(reply.body)["secret"]
        created = await server.create_session("http://example.com/")
        await receiver.wait_for(lambda e: e["type"] == "session.created", "the session")
        app = server.runner.app
        app[HOOKS].limits = Limits(queue=events + 10)  # a round's events all fit in the queue
        leader = created["participants"][0]["id"]
        for _ in range(rounds):
            before = len(receiver.accepted)
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(events):
                audit.event(app, created["id"], leader, "joined", role="leader", name="Ann", again="yes")
            publish_us.append((time.process_time() - cpu) / events * 1e6)
            cpu = time.process_time()
            for _ in range(events):  # an event integrators do not get (a navigation): filtered at once
                audit.event(app, created["id"], leader, "navigation", url="http://example.com/")
            quiet_us.append((time.process_time() - cpu) / events * 1e6)
            await receiver.wait_count(before + events, seconds=600)
            rates.append(events / (time.perf_counter() - started))
            t = time.perf_counter()
            audit.event(app, created["id"], leader, "left")
            await receiver.wait_for(lambda e: e["type"] == "participant.left" and e is receiver.accepted[-1],
                                    "the single event")
            latencies.append((time.perf_counter() - t) * 1000)
        assert all(r.verified for r in receiver.requests)
        ids = [e["id"] for e in receiver.accepted]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    finally:
        await stop_cobrowse(server)
        await receiver.close()
    return {"publish_us": statistics.median(publish_us), "quiet_us": statistics.median(quiet_us),
            "deliveries_per_s": statistics.median(rates),
            "single_event_ms": statistics.median(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(run(args.events, args.rounds))
    print(f"audit.event, published: {figures['publish_us']:.1f} us CPU per event (trail off)")
    print(f"audit.event, not for integrators: {figures['quiet_us']:.1f} us CPU per event (trail off)")
    print(f"one webhook, ordered, signed, verified: {figures['deliveries_per_s']:.0f} deliveries/s")
    print(f"one event, idle server, audit.event to the receiver's check: {figures['single_event_ms']:.1f} ms")


if __name__ == "__main__":
    main()
