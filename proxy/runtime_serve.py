"""Answers the injected runtime: ``GET /__cb/runtime.js?v=<hash>`` (``proxy.runtime_asset``).

Pages load it from the control plane's origin (``routes``: no session, no credential: the
script is the same public code for everyone and carries no secret); a proxy host still answers
``/__cb/runtime.js`` for its session's participants (``proxy.reserved``), for documents whose
tag predates the control-plane URL. Both go through ``answer``, so the caching, coding and CORS
headers are decided in one place.
"""

from __future__ import annotations

from aiohttp import web

from proxy.keys import RUNTIME
from proxy.runtime_asset import RUNTIME_PATH

routes = web.RouteTableDef()


def answer(request: web.Request) -> web.Response:
    asset = request.app[RUNTIME]
    headers = {
        "ETag": asset.etag,
        "Cache-Control": asset.cache_control(request.query.get("v")),
        "Vary": "Accept-Encoding",
        # Loaded with crossorigin="anonymous" from every proxy origin; timings readable by the pages.
        "Access-Control-Allow-Origin": "*",
        "Timing-Allow-Origin": "*",
    }
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    coding, body = asset.coded(request.headers.get("Accept-Encoding", ""))
    if coding:
        headers["Content-Encoding"] = coding
    return web.Response(body=body, content_type="application/javascript", charset="utf-8", headers=headers)


@routes.get(RUNTIME_PATH)
async def runtime_js(request: web.Request) -> web.Response:
    return answer(request)
