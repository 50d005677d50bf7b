"""Start a set of fixture apps on loopback ephemeral ports, one server per host name.

A ``World`` knows each host's port and hands out the two ways of reaching them: the proxy's
``resolve_overrides`` (``"host:80" -> ("127.0.0.1", port)``) and Chromium's
``--host-resolver-rules`` (for the direct self-check only: through the proxy Chromium must know
no fixture address, so nothing can reach a fixture server except through the proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from world.hits import HitLog

AppFactory = Callable[[HitLog, str], web.Application]


@dataclass(slots=True)
class World:
    """Running fixture servers: host name -> port, one shared hit log."""

    log: HitLog
    ports: dict[str, int] = field(default_factory=dict)
    runners: list[web.AppRunner] = field(default_factory=list)

    def resolve_overrides(self) -> dict[str, tuple[str, int]]:
        return {f"{host}:80": ("127.0.0.1", port) for host, port in self.ports.items()}

    def host_resolver_rules(self) -> str:
        return ",".join(f"MAP {host} 127.0.0.1:{port}" for host, port in self.ports.items())

    async def close(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


async def serve_app(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    """Run ``app`` on an ephemeral loopback port; the caller cleans the runner up."""
    # Header lines up to 64 KiB: the bad-input tests send a full cookie jar in one Cookie header.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, max_field_size=64 * 1024)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port


async def start_world(apps: Mapping[str, AppFactory], log: HitLog | None = None) -> World:
    world = World(log=log if log is not None else HitLog())
    try:
        for host, factory in apps.items():
            runner, port = await serve_app(factory(world.log, host))
            world.runners.append(runner)
            world.ports[host] = port
    except BaseException:
        await world.close()
        raise
    return world
