"""503 when the session store cannot be reached: a clear answer within a second, not a 500.

On Redis (``--store redis://...``) every request of a session reads the store; when Redis is down
or silent its client gives up in about a second (``proxy.stores.client_options``,
``proxy.redis_shared``) and raises one of ``STORE_DOWN``. This middleware, first in the app's
chain so that the proxy's hosts and the control plane both pass through it, answers such a
request 503 with ``Retry-After`` and says why: a problem document under ``/api/`` (a new
session, any API call), a page elsewhere (a proxied page, a join or entry link). Nothing is
kept from the failure: the next request tries the store again, so service comes back by itself
when Redis does. Sync sockets close with 1013 (try again later) in their own code, and the
runtime shows its reconnecting state meanwhile.

An exception raised after a response has begun (a streamed body, an open WebSocket) is left
alone: its head is sent, and cutting the transfer short is what tells the client.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proxy.keys import CONFIG
from proxy.pages import error_page
from proxy.problems import problem
from proxy.visit import is_proxy_host
from sessions.shared import SharedUnavailable

log = logging.getLogger("cobrowse.store")

# What a store that cannot be reached raises: the shared state's own error, and the Redis
# client's (the session store lets them through as they are).
STORE_DOWN: Final[tuple[type[Exception], ...]] = (SharedUnavailable, RedisConnectionError, RedisTimeoutError)
DETAIL: Final = "the session store cannot be reached; try again shortly"
RETRY_AFTER: Final = "2"
API_PREFIX: Final = "/api/"


@web.middleware
async def store_down(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except STORE_DOWN as exc:
        if _started(request):
            raise
        log.warning("store.unreachable method=%s path=%s error=%s", request.method, request.path,
                    type(exc).__name__)
        return answer(request)


def answer(request: web.Request) -> web.Response:
    """The 503 for ``request``: a problem document for the control plane's API, a page for
    everything else (a proxied page, a join or entry link)."""
    headers = {"Retry-After": RETRY_AFTER}
    if request.path.startswith(API_PREFIX) and not is_proxy_host(request, request.app[CONFIG]):
        return problem(503, DETAIL, headers=headers)
    return error_page(503, "Try again shortly", f"Co-browsing is paused: {DETAIL}.", headers=headers)


def _started(request: web.Request) -> bool:
    return bool(getattr(request.writer, "output_size", 0))
