"""Wait for a positive fence: poll a check until it holds, or fail naming what never came.

Tests use it where the thing awaited happens off the request's path (the audit writer's
records, a trail's last line, a timeline): the check answers the value once ready (anything
truthy), else something falsy; the last value is in the failure's message. A fence only:
never a pause before a negative assertion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], what: str, seconds: float = 10.0, step: float = 0.05) -> T:
    deadline = time.monotonic() + seconds
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s (last seen: {got!r})")
        await asyncio.sleep(step)
