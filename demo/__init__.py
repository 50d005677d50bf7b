"""A bundled demo world so a newcomer can try cobrowse offline, with no target in mind.

``run_demo()`` starts three small target sites on loopback ephemeral ports and yields a
``DemoWorld``: the resolver overrides that send the demo host names to those ports, and the
URL to start a session from. The sites:

  ``shop.demo.test``  home, products (SVG images, srcset), product pages, a cart page driven by
                      ``fetch`` to the API, a login form (POST + 302, HttpOnly session cookie,
                      "Signed in as ...", log out), a theme switch on a ``document.cookie``
                      cookie, and a playground with a scrollable box and a form of every input kind;
  ``api.demo.test``   the cart JSON API, CORS with credentials, preflights;
  ``blog.demo.test``  a second site linked both ways, with a stylesheet using ``url()``.

Invariants: nothing refers to a resource outside these three origins; every origin is on
port 80 in the pages (the overrides carry the real ports); the sites hold no state beyond one
``DemoState`` per ``run_demo()``, so two demos in one process never see each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aiohttp import web

from demo.api import api_app
from demo.catalogue import API_HOST, BLOG_HOST, SHOP, SHOP_HOST
from demo.sites import DemoState, blog_app, shop_app

__all__ = ["DemoWorld", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoWorld:
    overrides: Mapping[str, tuple[str, int]]  # "shop.demo.test:80" -> ("127.0.0.1", port)
    start_url: str  # "http://shop.demo.test/"


@contextlib.asynccontextmanager
async def run_demo(host: str = "127.0.0.1") -> AsyncIterator[DemoWorld]:
    """Serve the demo sites on ``host`` (ephemeral ports) until the context exits."""
    state = DemoState()
    apps = {SHOP_HOST: shop_app(state), API_HOST: api_app(state), BLOG_HOST: blog_app()}
    runners: list[web.AppRunner] = []
    try:
        overrides: dict[str, tuple[str, int]] = {}
        for name, app in apps.items():
            runner = web.AppRunner(app, access_log=None)
            runners.append(runner)
            await runner.setup()
            site = web.TCPSite(runner, host, 0)
            await site.start()
            overrides[f"{name}:80"] = (host, _bound_port(runner))
        yield DemoWorld(overrides=MappingProxyType(overrides), start_url=f"{SHOP}/")
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def _bound_port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    return int(address[1])
