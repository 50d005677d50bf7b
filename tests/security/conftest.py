"""Fixtures of the threat-model suite (``tests/security/``): canaries that must see nothing.

``canary`` is one started ``Canary``; ``canaries`` starts as many as a test asks for. A test
asserts ``canary.connections == 0`` itself (after a positive event proving the attempt ran);
the teardown checks again, so an attempt that lands late still fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from world.canary import Canary, fresh_loopback


@pytest.fixture
async def canaries() -> AsyncIterator[Callable[[], Awaitable[Canary]]]:
    started: list[Canary] = []

    async def start() -> Canary:
        canary = await Canary(fresh_loopback()).start()
        started.append(canary)
        return canary

    yield start
    for canary in started:
        await canary.close()
    leaked = [c.report() for c in started if c.connections]
    assert not leaked, "; ".join(leaked)


@pytest.fixture
async def canary(canaries: Callable[[], Awaitable[Canary]]) -> Canary:
    return await canaries()
