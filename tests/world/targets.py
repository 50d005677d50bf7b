"""The one way the tests serve something on loopback: an app, a set of named target sites, a socket.

- ``serve(app)`` runs one aiohttp app on an ephemeral loopback port (optionally TLS, optionally
  on a socket bound beforehand) and returns a ``Served`` (its runner and port).
- ``listen()`` binds that socket first, for a server that must know its own port before its app
  is built (the cobrowse server: the port is part of every proxy URL). Binding first and serving
  on the same socket leaves no window in which another process could take the port.
- ``free_port()`` is only for a server this process does not bind itself (a subprocess, or an
  entry point that binds its own socket); it closes the socket, so the port can be lost meanwhile.
- ``start_world(apps)`` serves a set of target sites, one server per host name, all recording
  into one ``HitLog``; a ``World`` hands out the proxy's ``resolve_overrides`` and Chromium's
  ``--host-resolver-rules`` for them. ``open_world`` is the same as an async context manager.

Every server here: no access log, a short shutdown (tests end with connections still open) and
header lines up to 64 KiB (the bad-input tests send a full cookie jar in one ``Cookie`` line).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from world.hits import HitLog

LOOPBACK = "127.0.0.1"
MAX_FIELD_SIZE = 64 * 1024

AppFactory = Callable[[HitLog, str], web.Application]
"""Builds one target site: ``factory(log, host)``; the site records each request in ``log`` as ``host``."""

ServeWorld = Callable[..., Awaitable["World"]]
"""The ``serve_world`` fixture: ``await serve_world({host: factory}, log=None)``, closed at teardown."""


@dataclass(frozen=True, slots=True)
class Served:
    """One running server: its runner (for the app and cleanup) and its loopback port."""

    runner: web.AppRunner
    port: int

    @property
    def app(self) -> web.Application:
        return self.runner.app

    async def close(self) -> None:
        await self.runner.cleanup()


def runner_for(app: web.Application, **runner_kwargs: Any) -> web.AppRunner:
    """The test default runner for ``app``; ``runner_kwargs`` override the defaults."""
    options: dict[str, Any] = {"access_log": None, "shutdown_timeout": 0.5, "max_field_size": MAX_FIELD_SIZE}
    return web.AppRunner(app, **{**options, **runner_kwargs})


def listen(host: str = LOOPBACK) -> socket.socket:
    """A TCP socket bound to an ephemeral port of ``host``, for ``serve(..., sock=...)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
    except BaseException:
        sock.close()
        raise
    return sock


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (for servers bound by someone else; prefer ``listen``)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def serve(app: web.Application | web.AppRunner, *, host: str = LOOPBACK, sock: socket.socket | None = None,
                ssl_context: ssl.SSLContext | None = None) -> Served:
    """Serve ``app`` (or a runner made for it elsewhere) on ``sock``, else on an ephemeral port of
    ``host``. The caller closes the ``Served``; a start that fails cleans up after itself."""
    runner = app if isinstance(app, web.AppRunner) else runner_for(app)
    await runner.setup()
    try:
        site: web.BaseSite = (web.SockSite(runner, sock, ssl_context=ssl_context) if sock is not None
                              else web.TCPSite(runner, host, 0, ssl_context=ssl_context))
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Served(runner, int(runner.addresses[0][1]))


async def serve_app(app: web.Application, host: str = LOOPBACK) -> tuple[web.AppRunner, int]:
    """``serve`` as a (runner, port) pair; the caller cleans the runner up."""
    served = await serve(app, host=host)
    return served.runner, served.port


@dataclass(slots=True)
class World:
    """Running target sites: host name -> port, one shared hit log."""

    log: HitLog
    ports: dict[str, int] = field(default_factory=dict)
    runners: list[web.AppRunner] = field(default_factory=list)

    def resolve_overrides(self) -> dict[str, tuple[str, int]]:
        return {f"{host}:80": (LOOPBACK, port) for host, port in self.ports.items()}

    def host_resolver_rules(self) -> str:
        return ",".join(f"MAP {host} {LOOPBACK}:{port}" for host, port in self.ports.items())

    async def add(self, host: str, app: web.Application) -> int:
        """Serve one more site as ``host``; its port."""
        served = await serve(app)
        self.runners.append(served.runner)
        self.ports[host] = served.port
        return served.port

    async def close(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


async def start_world(apps: Mapping[str, AppFactory], log: HitLog | None = None) -> World:
    """Serve each ``host -> factory`` of ``apps``, recording into ``log`` (a new one if None)."""
    world = World(log=log if log is not None else HitLog())
    try:
        for host, factory in apps.items():
            await world.add(host, factory(world.log, host))
    except BaseException:
        await world.close()
        raise
    return world


@contextlib.asynccontextmanager
async def open_world(apps: Mapping[str, AppFactory], log: HitLog | None = None) -> AsyncIterator[World]:
    """``start_world`` until the block exits."""
    world = await start_world(apps, log)
    try:
        yield world
    finally:
        await world.close()
