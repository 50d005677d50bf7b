"""Token buckets by name: how the API limits each key's requests and each address's failed sign-ins.

A bucket holds at most ``burst`` tokens and gains ``per_second`` of them each second; a request
takes one, and when none is left the answer is how many seconds until one is (the caller sends
``429`` with that as ``Retry-After``). Time is passed in (monotonic seconds), so the arithmetic
is tested without clocks.

Memory is bounded: at most ``max_names`` buckets are kept; past that the bucket touched least
recently is dropped (a dropped bucket comes back full, which only ever errs towards admitting).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Buckets:
    def __init__(self, rate: Rate, max_names: int = 10_000) -> None:
        self.rate = rate
        self._max = max_names
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait(self, name: str, now: float) -> float:
        """Seconds until ``name`` has a token (0.0 when it has one now); takes nothing."""
        bucket = self._refilled(name, now)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate.per_second

    def take(self, name: str, now: float) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is (nothing taken)."""
        bucket = self._refilled(name, now)
        if bucket.tokens < 1:
            return (1 - bucket.tokens) / self.rate.per_second
        bucket.tokens -= 1
        return 0.0

    def _refilled(self, name: str, now: float) -> _Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(self.rate.burst, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(name)
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(self.rate.burst, bucket.tokens + elapsed * self.rate.per_second)
            bucket.at = now
        return bucket


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1 (a client that waits that long gets in)."""
    return str(max(1, math.ceil(wait)))
