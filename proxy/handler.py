"""Host dispatch: requests to a session's proxy host never reach the control-plane routes.

A middleware looks at the Host header first (as ``proxy.door`` read it, once for the whole
request): ``<label>--<session>-<view>.<domain>`` goes to the proxy (admission, then the reserved
``/__cb/`` endpoints, a WebSocket relay for a page of the same session, or an HTTP exchange);
anything else falls through to the control plane's own routes. A request line in absolute form
is refused first, on every host (400: cobrowse is not a forward proxy). ``install`` gives the
router a route for proxy hosts (``door.ProxyHosts``), so that aiohttp need not build a 404 and
the middleware chain again for each of their requests.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy import exchange, logs, preflight, reserved, wsproxy
from proxy.door import ProxyHosts, proxy_host
from proxy.ending import EXPIRIES
from proxy.keys import CONFIG
from proxy.pages import error_page
from proxy.syncws import origin_allowed
from proxy.visit import Visit, admit, locate, no_pass
from rewriter.space import ProxyHost
from sessions.credentials import cookie_name


async def proxy_request(request: web.Request, host: ProxyHost) -> web.StreamResponse:
    if preflight.is_preflight(request) and cookie_name(host.session_id) not in request.cookies:
        place = await locate(request, host)
        return place if isinstance(place, web.Response) else await preflight.answer(request, place)
    visit = await admit(request, host)
    if not isinstance(visit, Visit):
        return visit
    logs.bind(session=visit.session.id, participant=visit.participant.id)  # for this request's log lines
    request.app[EXPIRIES].touch(visit.session.id)  # activity: the session is not idle
    if request.path.startswith(reserved.PREFIX):
        # cobrowse's own endpoints (cookies, aliases, sync) serve only a participant's credential.
        return await reserved.handle(request, visit) if visit.credentialed else no_pass()
    if _is_websocket(request):
        # A page of another session (same site, so the browser sends this session's cookie
        # too) or of the real web must not drive a participant's target socket.
        if not origin_allowed(request, visit):
            return error_page(403, "Foreign origin",
                              "WebSockets through cobrowse are accepted only from pages of the same session.")
        return await wsproxy.relay(request, visit)
    return await exchange.forward(request, visit)


def _is_websocket(request: web.Request) -> bool:
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("Connection", "").lower())


def _origin_form(request: web.Request) -> bool:
    """Whether the request line names a path (``GET /p HTTP/1.1``), as browsers send to a server.

    The absolute form (``GET http://host/p HTTP/1.1``) is what a client sends to a *forward*
    proxy; cobrowse is not one, and such a line names a host twice (line and ``Host``), which
    is how confusion between hops starts. It is answered 400, never served.
    """
    return request.raw_path.startswith("/") or (request.method == "OPTIONS" and request.raw_path == "*")


@web.middleware
async def host_dispatch(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _origin_form(request):
        return error_page(400, "Not a forward proxy",
                          "This request names a full URL where a path was expected (absolute-form request "
                          "line). cobrowse is not a forward proxy: open the co-browsing link in a browser "
                          "without a proxy setting that points here.")
    host = proxy_host(request, request.app[CONFIG].domain)
    if host is not None:
        return await proxy_request(request, host)
    return await handler(request)


def install(app: web.Application) -> None:
    """Give the router a route for every proxy host (``door.ProxyHosts``), so that aiohttp keeps
    their middleware chain built; ``host_dispatch`` must be among the app's middlewares."""
    app.router.register_resource(ProxyHosts(app[CONFIG].domain, _routed))


async def _routed(request: web.Request) -> web.StreamResponse:
    # Reached only if ``host_dispatch`` were not installed: it answers every proxy host first.
    host = proxy_host(request, request.app[CONFIG].domain)
    assert host is not None  # ProxyHosts resolves proxy hosts only
    return await proxy_request(request, host)
