"""The door: what a request's ``Host`` names, read once per request.

Several steps ask of every request whether it is for a session's proxy host, and which one
(dispatch, admission, the participant cookie's name, the security headers, the store-down
answer). ``proxy_host`` parses the ``Host`` header the first time it is asked
(``rewriter.space.parse_proxy_host``, the one parser of that grammar) and keeps the answer on
the request; every later asker gets the same value, so the steps cannot disagree about it.

``ProxyHosts`` is the router's resource for those requests: it claims every request to a proxy
host, whatever its path. Without it the router finds no route for them, and aiohttp builds a
404 and the middleware chain anew for each one; with it the chain is built once and cached.
The host dispatch middleware (``proxy.handler``) still decides: a proxy host whose path is
also a control-plane route never reaches that route.

Invariant: the value kept is a function of the ``Host`` header and the configured domain only
(neither changes during a request).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import _InfoDict, _Resolve
from yarl import URL

from rewriter.space import ProxyHost, parse_proxy_host

_READ: web.RequestKey[tuple[ProxyHost | None]] = web.RequestKey("proxy_host", tuple)


def proxy_host(request: web.Request, domain: str) -> ProxyHost | None:
    """What the request's host names under ``domain`` (the configured one: origin label, session,
    view), or None for a host that is not a session's proxy host (the control plane, a stranger)."""
    read = request.get(_READ)
    if read is None:
        read = (parse_proxy_host(request.host, domain),)
        request[_READ] = read
    return read[0]


class ProxyHosts(web.Resource):
    """Every path on a proxy host of ``domain`` (no other request resolves here), served by ``handler``."""

    def __init__(self, domain: str, handler: Handler) -> None:
        super().__init__(name=None)
        self._domain = domain  # the router resolves before ``request.app`` is set
        self.add_route("*", handler)

    @property
    def canonical(self) -> str:
        return "/"  # indexed with the root: asked after every more specific path

    async def resolve(self, request: web.Request) -> _Resolve:
        if proxy_host(request, self._domain) is None:
            return None, set()
        return await super().resolve(request)

    def _match(self, path: str) -> dict[str, str] | None:
        return {}

    def raw_match(self, path: str) -> bool:
        return False

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("ProxyHosts belongs to the root application")

    def get_info(self) -> _InfoDict:
        return {}

    def url_for(self) -> URL:  # type: ignore[override]
        raise RuntimeError("a proxy host's URLs come from its session's ProxySpace")
