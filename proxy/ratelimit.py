"""Token buckets by name: how the API limits each key's requests and each address's failed sign-ins.

A bucket holds at most ``burst`` tokens and gains ``per_second`` of them each second; a request
takes one, and when none is left the answer is how many seconds until one is (the caller sends
``429`` with that as ``Retry-After``). The arithmetic (``refill``, ``taken``) is pure and takes the
time as an argument, so it is tested without clocks.

The buckets live in the shared state (``sessions.shared.Shared``), one value per name
(``rate:<family>:<name>``, text ``"tokens at"``), changed by one ``transact`` per request: several
server processes count one client together, and a client cannot multiply its allowance by the
number of processes its requests are spread over. Time is wall-clock (``time.time()``), the only
clock processes share. Memory is bounded by time: a bucket is kept for the time it takes to
refill (``Rate.full_after``) after its last use, after which a missing bucket and a full one are
the same thing (a dropped bucket only ever errs towards admitting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sessions.shared import Shared, Write

KEY_PREFIX: Final = "rate:"


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")

    @property
    def full_after(self) -> float:
        """Seconds an empty bucket takes to fill: how long a bucket is worth keeping."""
        return self.burst / self.per_second


def refill(held: str | None, rate: Rate, now: float) -> float:
    """The tokens in a bucket kept as ``held`` (None: never used, or forgotten: full) at ``now``."""
    if held is None:
        return rate.burst
    tokens, _, at = held.partition(" ")
    try:
        elapsed = max(0.0, now - float(at))
        return min(rate.burst, float(tokens) + elapsed * rate.per_second)
    except ValueError:  # not what this module writes: count it as a full bucket
        return rate.burst


def wait_for(tokens: float, rate: Rate) -> float:
    """Seconds until a bucket holding ``tokens`` has one (0.0: it has one now)."""
    return 0.0 if tokens >= 1 else (1 - tokens) / rate.per_second


def taken(held: str | None, rate: Rate, now: float) -> tuple[str | None, float]:
    """Take a token from the bucket ``held``: its new text (None: unchanged) and the wait (0.0: taken)."""
    tokens = refill(held, rate, now)
    wait = wait_for(tokens, rate)
    return (None, wait) if wait else (f"{tokens - 1!r} {now!r}", 0.0)


class Buckets:
    """The buckets of one ``family`` (e.g. ``api``, ``auth-failures``) in the shared state."""

    def __init__(self, shared: Shared, family: str, rate: Rate) -> None:
        self.rate = rate
        self._shared = shared
        self._prefix = f"{KEY_PREFIX}{family}:"

    async def wait(self, name: str, now: float) -> float:
        """Seconds until ``name`` has a token (0.0 when it has one now); takes nothing."""
        return wait_for(refill(await self._shared.get(self._prefix + name), self.rate, now), self.rate)

    async def take(self, name: str, now: float) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is (nothing taken)."""
        ttl = self.rate.full_after + 1.0

        def change(held: str | None) -> tuple[Write | None, float]:
            new, wait = taken(held, self.rate, now)
            return (None if new is None else Write(value=new, ttl=ttl)), wait

        return await self._shared.transact(self._prefix + name, change)


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1 (a client that waits that long gets in)."""
    return str(max(1, math.ceil(wait)))
