"""The JSON API origins, both answering CORS with credentials for an allow-list of origins.

``api.test`` is cross-site to site A: ``/data.json`` echoes the Origin it received and the
cookie names it got (none of site A's may reach it). ``api.site-a.test`` is same-site with
site A but cross-origin: ``/cookies`` reports the cookie names it received, which is how the
tests observe Domain and SameSite semantics. Access-Control-Allow-Origin names the caller's
real origin exactly (never ``*``), so a proxy that fails to map it breaks the fetch.
"""

from __future__ import annotations

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import cookie_names

ALLOWED_ORIGINS = frozenset({"http://site-a.test", "http://site-b.test"})


def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    origin = request.headers.get("Origin", "")
    if origin in ALLOWED_ORIGINS:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


async def preflight(request: web.Request) -> web.StreamResponse:
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", ""
    )
    return _cors(request, response)


async def data(request: web.Request) -> web.StreamResponse:
    body = {"origin": request.headers.get("Origin"), "cookies": cookie_names(request), "items": [1, 2, 3]}
    return _cors(request, web.json_response(body))


async def cookies(request: web.Request) -> web.StreamResponse:
    return _cors(request, web.json_response({"cookies": cookie_names(request)}))


def make_api(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/data.json", data)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    return app


def make_site_a_api(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/cookies", cookies)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    return app
