"""Errors under ``/api/`` that no route wrote itself, answered as problem documents too.

aiohttp answers an unknown path (404), a method a path does not take (405, with ``Allow``),
a body over ``client_max_size`` (413) and other ``HTTPException``s in text/plain, and an
unexpected exception as a bare 500. On the control plane's ``/api/`` paths this middleware
turns each into ``application/problem+json`` with a detail a client can act on; the 500 names
no internals (the exception is logged). An exception raised after a streamed response has
begun is left alone: its headers are sent, and aiohttp's cutting the transfer short is what
tells the client (``proxy.audit_api``). Every other path is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.problems import problem
from proxy.store_down import STORE_DOWN

API_PREFIX = "/api/"
log = logging.getLogger("cobrowse.api")

# What to say for aiohttp's own refusals; others get their reason phrase.
DETAILS: Mapping[int, str] = {
    404: "no such API route: see GET /api/v1/openapi.json for the routes this server has",
    405: "this API route does not take that method; the Allow header lists those it takes",
    413: "the request body is too large for this server",
}
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


@web.middleware
async def api_problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or _started(request):
            raise
        kept = {name: exc.headers[name] for name in KEPT_HEADERS if name in exc.headers}
        return problem(exc.status, DETAILS.get(exc.status, exc.reason), headers=kept)
    except STORE_DOWN:
        raise  # proxy.store_down answers 503: a store that cannot be reached is not this server's bug
    except Exception:
        if _started(request):
            raise
        log.exception("api.error method=%s path=%s", request.method, request.path)
        return problem(500, "the server failed on this request; it is logged. Try again, and report it if it "
                            "keeps failing")


def _started(request: web.Request) -> bool:
    writer = request.writer
    return bool(getattr(writer, "output_size", 0))
