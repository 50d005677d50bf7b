"""Upstream failures: the typed errors of the upstream client, and the clear page each one
becomes for the browser (a table, not a chain of excepts)."""

from __future__ import annotations

from aiohttp import web

from proxy.decoding import BodyTooLarge
from proxy.netguard import Verdict
from proxy.pages import error_page
from sessions.policy import Refusal


class UpstreamError(Exception):
    """Base of the failures the proxy turns into a clear error page."""


class BlockedTarget(UpstreamError):
    """The target's address is refused by the SSRF guard (or its URL is not one we fetch)."""

    def __init__(self, message: str, verdicts: tuple[Verdict, ...] = ()) -> None:
        super().__init__(message)
        self.verdicts = verdicts


class PolicyRefused(BlockedTarget):
    """The target is refused by target policy (a bad port, a domain list); ``refusal`` says which rule."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class UpstreamTimeout(UpstreamError):
    """The target did not answer within the deadline, or stalled between reads."""


class UpstreamUnavailable(UpstreamError):
    """The target could not be reached, or the connection broke."""


class BadUpstreamResponse(UpstreamUnavailable):
    """The target answered with something we cannot use (bad encoding, refused WS handshake)."""


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
