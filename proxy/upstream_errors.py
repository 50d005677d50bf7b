"""Upstream failures -> the clear page the browser gets. A table, not a chain of excepts."""

from __future__ import annotations

from aiohttp import web

from proxy.pages import error_page
from proxy.upstream import BlockedTarget, BodyTooLarge, PolicyRefused, UpstreamTimeout, UpstreamUnavailable

# First match wins: subclasses before their bases.
_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    PolicyRefused: (403, "Site not allowed", "This co-browsing server does not go there: {exc}."),
    BlockedTarget: (403, "Address not allowed", "The site's address is not allowed by this server: {exc}"),
    UpstreamTimeout: (504, "The site took too long",
                      "The site did not answer in time ({exc}). Try again, or try later."),
    UpstreamUnavailable: (502, "The site could not be reached", "Connecting to the site failed: {exc}"),
    BodyTooLarge: (502, "Response too large", "The site's response could not be processed safely: {exc}"),
}


def refusal_for(exc: BaseException) -> web.Response | None:
    for kind, (status, title, message) in _REFUSALS.items():
        if isinstance(exc, kind):
            return error_page(status, title, message.format(exc=exc))
    return None
