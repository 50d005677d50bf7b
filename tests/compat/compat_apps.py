"""Real third-party apps for the compatibility suite, each a subprocess on a loopback ephemeral port.

An ``AppSpec`` says how to start one app: the command (it must bind ``127.0.0.1:0`` itself and
print the port it got), the regular expression that finds that port in its output, and a path
that answers once it is ready. ``start_app`` runs the command in its own process group, reads
its output until the port shows (the readiness wait then polls the path over HTTP), and puts a
counting forwarder in front of it (``counting_front``): the browser (directly) and the
proxy both reach the app through the front, so every request that reached the app is one
``Hit`` in the app's log, whoever sent it. ``RunningApp.stop`` ends the process group (TERM,
then KILL after a grace period) and the front.

The apps are installed by package name from the ``test`` extra (``pyproject.toml``); the
commands run them with this interpreter (``sys.executable -m ...``), so they come from the
same environment as the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from counting_front import CountingFront
from world.hits import HitLog

START_SECONDS = 60
STOP_SECONDS = 5


@dataclass(frozen=True, slots=True)
class AppSpec:
    """How to start one app; ``host`` is the test host name the browser and the proxy use for it."""

    name: str
    host: str
    argv: tuple[str, ...]
    port_pattern: str  # a regex whose first group is the port, matched against each output line
    ready_path: str = "/"
    cwd: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    icons: tuple[str, ...] = ("/favicon.ico",)  # fetched by Chromium's favicon service, not by the page
    polled: tuple[str, ...] = ()  # path prefixes asked for on a timer or by a race (counts depend on timing)
    random_query: tuple[str, ...] = ()  # paths whose query holds a fresh random value each time (not counted)


@dataclass(slots=True)
class RunningApp:
    spec: AppSpec
    process: asyncio.subprocess.Process
    app_port: int
    front: CountingFront
    log: HitLog
    output: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def front_port(self) -> int:
        return self.front.port

    @property
    def host(self) -> str:
        return self.spec.host

    def url(self, path: str) -> str:
        return f"http://{self.spec.host}{path}"

    def resolve_overrides(self) -> dict[str, tuple[str, int]]:
        """For the proxy's resolver: the test host on port 80 is the counting front."""
        return {f"{self.spec.host}:80": ("127.0.0.1", self.front_port)}

    def host_resolver_rules(self) -> str:
        """For a Chromium that reaches the app directly (mode a), through the same front."""
        return f"MAP {self.spec.host} 127.0.0.1:{self.front_port}"

    async def stop(self) -> None:
        await self.front.close()
        await _end(self.process)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _read_port(process: asyncio.subprocess.Process, pattern: re.Pattern[str], output: list[str]) -> int:
    assert process.stdout is not None
    while True:
        raw = await process.stdout.readline()
        if not raw:
            raise RuntimeError("the app exited before it printed its port:\n" + "".join(output[-40:]))
        line = raw.decode("utf-8", "replace")
        output.append(line)
        found = pattern.search(line)
        if found:
            return int(found.group(1))


async def _drain(process: asyncio.subprocess.Process, output: list[str]) -> None:
    # The app keeps writing (access logs): reading on keeps its pipe from filling up and blocking it.
    assert process.stdout is not None
    while raw := await process.stdout.readline():
        output.append(raw.decode("utf-8", "replace"))
        del output[:-200]


async def _wait_ready(port: int, path: str) -> None:
    async with aiohttp.ClientSession() as client:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"http://127.0.0.1:{port}{path}", allow_redirects=False) as resp:
                    if resp.status < 500:
                        return
            await asyncio.sleep(0.1)


async def start_app(spec: AppSpec) -> RunningApp:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **dict(spec.env)}
    process = await asyncio.create_subprocess_exec(
        *spec.argv, cwd=spec.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    output: list[str] = []
    reader: asyncio.Task[None] | None = None
    try:
        port = await asyncio.wait_for(_read_port(process, re.compile(spec.port_pattern), output), START_SECONDS)
        reader = asyncio.create_task(_drain(process, output))
        await asyncio.wait_for(_wait_ready(port, spec.ready_path), START_SECONDS)
        front = await CountingFront(HitLog(), spec.host, port).start()
    except BaseException as exc:
        if reader is not None:
            reader.cancel()
        await _end(process)
        if isinstance(exc, TimeoutError):
            tail = "".join(output[-40:])
            raise RuntimeError(f"{spec.name} was not ready within {START_SECONDS} s:\n{tail}") from exc
        raise
    return RunningApp(spec, process, port, front, front.log, output, reader)


def python_module(module: str, *args: str) -> tuple[str, ...]:
    """Run ``module`` with the tests' own interpreter (the app comes from the same environment)."""
    return (sys.executable, "-m", module, *args)


def gunicorn(wsgi_app: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    # gthread: keep-alive and concurrent requests (a page's subresources arrive in parallel).
    return python_module("gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "--worker-class", "gthread",
                         "--threads", "8", "--no-control-socket", "--access-logfile", "-", *extra, wsgi_app)


GUNICORN_PORT = r"Listening at: http://127\.0\.0\.1:(\d+)"
