"""Cost of the session store: add, get and update of one session, per backend.

Run from the repository root:  python bench/bench_store.py [--sessions 2000] [--rounds 5]
[--redis redis://127.0.0.1:6379/0]

Each round adds ``--sessions`` sessions (a leader and two followers, an alias and a ticket: the
shape of a session in use), then gets each one and updates each one (renaming its controller),
and reports microseconds per operation; figures are medians over the rounds. The memory backend
always runs; ``--redis URL`` also runs the Redis backend (``proxy.redis_store``) on that server,
in a namespace of its own that is deleted at the end (nothing else in that database is touched).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rewriter.origins import Origin
from sessions.model import Participant, Session, Ticket
from sessions.store import MemoryStore, SessionStore

OPS = ("add", "get", "update")


def _session(n: int, now: float) -> Session:
    sid = f"s{n:08d}"
    leader = Participant(f"{sid}-l", "leader", "Agent Ann", now, "agent-1")
    session = Session(id=sid, target_url="https://example.com/account", created_at=now + n * 1e-6,
                      expires_at=now + 7200, leader_id=leader.id, controller=leader.id)
    session.add_participant(leader)
    for k in range(2):
        session.add_participant(Participant(f"{sid}-f{k}", "follower", f"Visitor {k}", now))
    session.tickets["t"] = Ticket("d" * 64, leader.id, now + 60, "https://example.com/")
    session.aliases["a-" + sid] = Origin("https", "a-very-long-host-name.example.com", 443)
    session.reached_origins.add("https://example.com")
    return session


async def _timed(count: int, step: Callable[[int], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for n in range(count):
        await step(n)
    return (time.perf_counter() - started) / count * 1e6


async def one_round(store: SessionStore, count: int) -> dict[str, float]:
    now = time.time()
    made = [_session(n, now) for n in range(count)]

    def rename(session: Session) -> None:
        session.controller = session.participants[session.leader_id].id

    return {
        "add": await _timed(count, lambda n: store.add(made[n])),
        "get": await _timed(count, lambda n: store.get(made[n].id)),
        "update": await _timed(count, lambda n: store.update(made[n].id, rename)),
    }


async def run(name: str, make: Callable[[], SessionStore], count: int, rounds: int) -> None:
    results = []
    for _ in range(rounds):
        store = make()
        try:
            results.append(await one_round(store, count))
        finally:
            await store.close()
    cells = " | ".join(f"{statistics.median(r[op] for r in results):.1f}" for op in OPS)
    print(f"| {name} | {count} | {cells} |", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="", help="also run the Redis backend on this server")
    args = parser.parse_args()
    print("| backend | sessions | add us | get us | update us |\n| --- | --- | --- | --- | --- |")
    await run("memory", MemoryStore, args.sessions, args.rounds)
    if args.redis:
        from proxy.redis_store import RedisStore

        namespace = f"cobrowse-bench-{uuid.uuid4().hex[:8]}:"
        await run("redis", lambda: RedisStore.from_url(args.redis, namespace=namespace, forget_on_close=True),
                  args.sessions, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
