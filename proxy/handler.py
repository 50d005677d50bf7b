"""Host dispatch: requests to a session's proxy host never reach the control-plane routes.

A middleware looks at the Host header first: ``<label>--<session>.<domain>`` goes to the
proxy (admission, then the reserved ``/__cb/`` endpoints, a WebSocket relay, or an HTTP
exchange); anything else falls through to the control plane's own routes.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy import exchange, preflight, reserved, wsproxy
from proxy.keys import CONFIG
from proxy.visit import Visit, admit, cookie_name_for, is_proxy_host, locate


async def proxy_request(request: web.Request) -> web.StreamResponse:
    if preflight.is_preflight(request) and cookie_name_for(request) not in request.cookies:
        place = await locate(request)
        return place if isinstance(place, web.Response) else await preflight.answer(request, place)
    visit = await admit(request)
    if not isinstance(visit, Visit):
        return visit
    if request.path.startswith(reserved.PREFIX):
        return await reserved.handle(request, visit)
    if _is_websocket(request):
        return await wsproxy.relay(request, visit)
    return await exchange.forward(request, visit)


def _is_websocket(request: web.Request) -> bool:
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("Connection", "").lower())


@web.middleware
async def host_dispatch(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_proxy_host(request, request.app[CONFIG]):
        return await proxy_request(request)
    return await handler(request)
