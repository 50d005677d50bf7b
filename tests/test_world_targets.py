"""The test harness's one way to serve targets (``world.targets``) and the demo as a world (``world.demo``).

No browser: requests go to 127.0.0.1 with the site's host in ``Host``, as the proxy sends them.
"""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from world import HitLog, ServeWorld
from world.demo import demo_apps
from world.hits import hit_middleware
from world.targets import listen, open_world, serve, start_world


def _hello(log: HitLog, host: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=f"hello from {host}")

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", answer)
    return app


async def _get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}{path}",
                                                              headers={"Host": host}) as reply:
        return reply.status, await reply.text()


async def test_a_world_serves_each_host_on_its_own_port_and_records_every_request(serve_world: ServeWorld) -> None:
    world = await serve_world({"one.test": _hello, "two.test": _hello})
    assert len(set(world.ports.values())) == 2
    for host, port in world.ports.items():
        assert await _get(port, host) == (200, f"hello from {host}")
    assert [(h.server, h.path) for h in world.log] == [("one.test", "/"), ("two.test", "/")]
    assert world.resolve_overrides() == {f"{h}:80": ("127.0.0.1", p) for h, p in world.ports.items()}
    assert world.host_resolver_rules() == ",".join(f"MAP {h} 127.0.0.1:{p}" for h, p in world.ports.items())


async def test_serving_on_a_socket_bound_first_keeps_its_port_and_closing_frees_it() -> None:
    sock = listen()
    port = int(sock.getsockname()[1])
    served = await serve(_hello(HitLog(), "sock.test"), sock=sock)
    assert served.port == port
    assert await _get(port, "sock.test") == (200, "hello from sock.test")
    await served.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(port, "sock.test")


async def test_a_world_that_fails_to_start_closes_the_sites_it_had_started() -> None:
    cleaned: list[str] = []

    def recording(log: HitLog, host: str) -> web.Application:
        async def note(app: web.Application) -> None:
            cleaned.append(host)

        app = _hello(log, host)
        app.on_cleanup.append(note)
        return app

    def broken(log: HitLog, host: str) -> web.Application:
        raise RuntimeError("this site cannot be built")

    with pytest.raises(RuntimeError, match="cannot be built"):
        await start_world({"ok.test": recording, "broken.test": broken})
    assert cleaned == ["ok.test"]


async def test_the_demo_as_a_world_serves_its_sites_and_records_even_what_its_api_answers_itself() -> None:
    async with open_world(demo_apps()) as world:
        assert set(world.ports) == {"shop.demo.test", "api.demo.test", "blog.demo.test"}
        status, text = await _get(world.ports["shop.demo.test"], "shop.demo.test")
        assert status == 200 and "blog.demo.test" in text
        async with aiohttp.ClientSession() as client, client.options(
                f"http://127.0.0.1:{world.ports['api.demo.test']}/cart",
                headers={"Host": "api.demo.test", "Origin": "http://shop.demo.test",
                         "Access-Control-Request-Method": "POST"}) as reply:
            assert reply.status < 400
        assert [(h.server, h.method) for h in world.log] == [("shop.demo.test", "GET"), ("api.demo.test", "OPTIONS")]
