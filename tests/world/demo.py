"""The bundled demo (``demo/``) as a target world: its three sites served by ``start_world``.

``demo_apps()`` maps each demo host to a factory that builds the demo's own app and puts the
world's hit middleware in front of everything else (so a CORS preflight the API answers itself
is recorded too). The apps of one ``demo_apps()`` share one ``DemoState``, as under ``run_demo``;
two calls never see each other. ``run_demo`` itself stays what the CLI uses and what
``test_demo.py`` checks; this is for tests that want the demo with a hit log.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from demo.api import api_app
from demo.catalogue import API_HOST, BLOG_HOST, SHOP, SHOP_HOST
from demo.sites import DemoState, blog_app, shop_app
from world.hits import HitLog, hit_middleware
from world.targets import AppFactory

DEMO_START = f"{SHOP}/"


def demo_apps() -> dict[str, AppFactory]:
    state = DemoState()
    builders: dict[str, Callable[[], web.Application]] = {
        SHOP_HOST: lambda: shop_app(state),
        API_HOST: lambda: api_app(state),
        BLOG_HOST: blog_app,
    }
    return {host: _recorded(build) for host, build in builders.items()}


def _recorded(build: Callable[[], web.Application]) -> AppFactory:
    def factory(log: HitLog, host: str) -> web.Application:
        app = build()
        app.middlewares.insert(0, hit_middleware(log, host))
        return app

    return factory
