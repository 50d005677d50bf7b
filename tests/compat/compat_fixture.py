"""The one way a compat module stands up its apps and its ``modes``: a module-scoped fixture.

``modes_fixture(name, start)`` makes the module's ``modes`` fixture: ``start`` gets a fresh tmp
dir and an exit stack, starts the app (or the apps: the first is the one the features open, the
others are further origins it reaches) with ``started`` so each one is stopped when the module
is done (also when a later one fails to start), and the fixture opens the three modes on them.
Each app starts once per module.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from compat_apps import AppSpec, RunningApp, start_app
from compat_modes import Modes, open_modes

Start = Callable[[Path, contextlib.AsyncExitStack], Awaitable[tuple[RunningApp, ...]]]


async def started(stack: contextlib.AsyncExitStack, spec: AppSpec) -> RunningApp:
    app = await start_app(spec)
    stack.push_async_callback(app.stop)
    return app


def one_app(spec_of: Callable[[Path], AppSpec]) -> Start:
    """A ``Start`` for a module of one app whose spec is made in the tmp dir."""

    async def start(root: Path, stack: contextlib.AsyncExitStack) -> tuple[RunningApp, ...]:
        return (await started(stack, spec_of(root)),)

    return start


def modes_fixture(name: str, start: Start, **config: Any) -> Any:
    """The module's ``modes`` fixture (assign it to a module-level name ``modes``)."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="modes")
    async def modes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Modes]:
        async with contextlib.AsyncExitStack() as stack:
            apps = await start(tmp_path_factory.mktemp(name), stack)
            async with open_modes(*apps, **config) as opened:
                yield opened

    return modes
