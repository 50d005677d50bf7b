"""The test harness (see tests/README.md) and the fixture world: small real aiohttp sites the tests browse.

Harness modules: ``targets`` (serve apps and worlds on loopback), ``harness`` (the cobrowse server
and a raw client for it), ``party`` and ``sync_client`` (participants in Chromium and scripted),
``browser`` (Chromium), ``hits`` (hit logs), ``canary``; other worlds: ``sync_sites``,
``e2e_sites``, ``demo``, ``bad``, ``sinks``; ``front`` (a counting forwarder).

Hosts (each its own server on a loopback ephemeral port, each request recorded in one
``HitLog``): ``site-a.test`` (every feature, see ``site_a``), ``site-b.test`` (a second site:
links, iframe, meta-refresh target), ``cdn.test`` (script, CSS, images), ``api.test`` (a
cross-site JSON API with CORS and credentials), ``api.site-a.test`` (same-site API that reports
the cookies it received).

``SITE_A_INDEX_PATHS`` is exactly what loading site A's ``/`` fetches from each host (browsers
may add ``/favicon.ico``); tests compare the hit log with it.
"""

from __future__ import annotations

from world import api, cdn, site_a, site_b
from world.hits import Hit, HitLog
from world.targets import AppFactory, ServeWorld, World, open_world, serve, serve_app, start_world

WORLD_APPS: dict[str, AppFactory] = {
    "site-a.test": site_a.make_app,
    "site-b.test": site_b.make_app,
    "cdn.test": cdn.make_app,
    "api.test": api.make_api,
    "api.site-a.test": api.make_site_a_api,
}

SITE_A_INDEX_PATHS: dict[str, frozenset[str]] = {
    "site-a.test": frozenset({"/", "/cookies", "/ws"}),
    "site-b.test": frozenset({"/frame"}),
    "cdn.test": frozenset(
        {
            "/lib.js",
            "/style.css",
            "/imported.css",
            "/imported-str.css",
            "/img/bg.png",
            "/img/block.png",
            "/img/inline.png",
            "/img/a,1.png",
            "/img/js.png",
        }
    ),
    "api.test": frozenset({"/data.json"}),
    "api.site-a.test": frozenset({"/cookies"}),
}

JS_URLS_PATHS: dict[str, frozenset[str]] = {
    "site-a.test": frozenset({"/js-urls"}),
    "cdn.test": frozenset({"/dyn.js", "/img/attr.png", "/img/inner.png"}),
    "api.test": frozenset({"/data.json"}),
}

# Paths a browser may fetch on its own; never a sign of a leak.
BROWSER_EXTRAS = frozenset({"/favicon.ico"})

__all__ = [
    "BROWSER_EXTRAS",
    "JS_URLS_PATHS",
    "SITE_A_INDEX_PATHS",
    "WORLD_APPS",
    "AppFactory",
    "Hit",
    "HitLog",
    "ServeWorld",
    "World",
    "open_world",
    "serve",
    "serve_app",
    "start_world",
]
