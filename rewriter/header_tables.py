"""What happens to each HTTP header crossing the proxy: the tables, reviewed like data.

``headers.py`` holds the code that applies these tables; this module holds only the decisions.
Header names are compared in lower case. A header absent from a table is kept unchanged, so a
new standard header reaches the other side unless someone decides otherwise here.

Invariants:
- Every header that can name the browser's (proxy) origin to the target, or a real origin to
  the browser, has an entry: it is either mapped through ``ProxySpace`` or dropped.
- Hop-by-hop headers never cross (RFC 9110 section 7.6.1), in either direction.
- Set-Cookie is captured for the session's jar and never reaches the browser; the browser's
  Cookie header never reaches the target.
"""

from __future__ import annotations

from enum import Enum


class RequestAction(Enum):
    """What happens to a header on its way from the browser to the target."""

    DROP = "drop"
    ORIGIN = "origin"  # a proxy origin: mapped back to the real origin, dropped if foreign
    URL_BACK = "url-back"  # a proxy URL: mapped back to the real URL, dropped if foreign
    FETCH_SITE = "fetch-site"  # recomputed from the real initiator and target
    ACCEPT_ENCODING = "accept-encoding"  # narrowed to codings the proxy can decode


class ResponseAction(Enum):
    """What happens to a header on its way from the target to the browser."""

    DROP = "drop"
    CAPTURE = "capture"  # Set-Cookie: handed to the session's jar
    MAP_URL = "map-url"  # a single URL (relative stays relative)
    MAP_REDIRECT = "map-redirect"  # Location: a URL that must also be a safe redirect target
    MAP_REFRESH = "map-refresh"  # "5; url=..."
    MAP_LINK = "map-link"  # RFC 8288 list of <uri>; params
    MAP_ACAO = "map-acao"  # one real origin, "*" or "null"
    MAP_ORIGIN_LIST = "map-origin-list"  # space-separated origins or "*" (Timing-Allow-Origin)
    MAP_URL_LIST = "map-url-list"  # structured-field list of quoted URLs (Speculation-Rules)


# RFC 9110 7.6.1 plus the non-standard ones still seen on the wire. Names listed in a
# Connection header are hop-by-hop too; headers.py adds them per message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)

# The WebSocket handshake headers a relaying proxy keeps when the request is an upgrade.
# Sec-WebSocket-Extensions is not among them: compression is negotiated per hop, and the
# proxy's own client makes its own offer upstream.
WEBSOCKET_KEEP = frozenset({"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                            "sec-websocket-protocol"})
WEBSOCKET_ONLY = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
                            "sec-websocket-extensions"})

REQUEST_DROP_PREFIXES = ("proxy-", "x-forwarded-")

REQUEST_ACTIONS: dict[str, RequestAction] = {
    **dict.fromkeys(HOP_BY_HOP, RequestAction.DROP),
    **dict.fromkeys(WEBSOCKET_ONLY, RequestAction.DROP),
    # The upstream client derives Host from the real URL.
    "host": RequestAction.DROP,
    # The browser's cookies belong to the proxy (participant credential); the jar adds its own.
    "cookie": RequestAction.DROP,
    "cookie2": RequestAction.DROP,
    # Clues about the client and the path it came by are the proxy's, not the target's.
    "forwarded": RequestAction.DROP,
    "via": RequestAction.DROP,
    "x-real-ip": RequestAction.DROP,
    "client-ip": RequestAction.DROP,
    "true-client-ip": RequestAction.DROP,
    "cdn-loop": RequestAction.DROP,
    "origin": RequestAction.ORIGIN,
    "referer": RequestAction.URL_BACK,
    # a[ping] reports carry the page and the link target as URLs.
    "ping-from": RequestAction.URL_BACK,
    "ping-to": RequestAction.URL_BACK,
    "sec-fetch-site": RequestAction.FETCH_SITE,
    "accept-encoding": RequestAction.ACCEPT_ENCODING,
}

# Codings the proxy can decode (and re-encode or send as identity).
ACCEPT_ENCODING = "gzip, deflate, br, zstd"

RESPONSE_ACTIONS: dict[str, ResponseAction] = {
    **dict.fromkeys(HOP_BY_HOP, ResponseAction.DROP),
    "set-cookie": ResponseAction.CAPTURE,
    # Obsolete (RFC 6265 removed it) and ignored by browsers: the jar must ignore it too.
    "set-cookie2": ResponseAction.DROP,
    "location": ResponseAction.MAP_REDIRECT,
    "content-location": ResponseAction.MAP_URL,
    "refresh": ResponseAction.MAP_REFRESH,
    "link": ResponseAction.MAP_LINK,
    "access-control-allow-origin": ResponseAction.MAP_ACAO,
    "timing-allow-origin": ResponseAction.MAP_ORIGIN_LIST,
    "speculation-rules": ResponseAction.MAP_URL_LIST,
    # Policies written for the real origin: they would break (or report on) the proxied page.
    # The proxy adds a CSP of its own that keeps pages inside the proxy space.
    "content-security-policy": ResponseAction.DROP,
    "content-security-policy-report-only": ResponseAction.DROP,
    "x-content-security-policy": ResponseAction.DROP,
    "x-webkit-csp": ResponseAction.DROP,
    "x-frame-options": ResponseAction.DROP,
    "cross-origin-opener-policy": ResponseAction.DROP,
    "cross-origin-opener-policy-report-only": ResponseAction.DROP,
    "cross-origin-embedder-policy": ResponseAction.DROP,
    "cross-origin-embedder-policy-report-only": ResponseAction.DROP,
    "cross-origin-resource-policy": ResponseAction.DROP,
    # Pins the proxy domain to https, or reports to the real site's collectors.
    "strict-transport-security": ResponseAction.DROP,
    "report-to": ResponseAction.DROP,
    "nel": ResponseAction.DROP,
    "reporting-endpoints": ResponseAction.DROP,
    "expect-ct": ResponseAction.DROP,
    "public-key-pins": ResponseAction.DROP,
    "public-key-pins-report-only": ResponseAction.DROP,
    # Would send the browser to the real origin over another protocol.
    "alt-svc": ResponseAction.DROP,
    # Would wipe the proxy origin's storage, which holds more than this target's.
    "clear-site-data": ResponseAction.DROP,
    # Rewritten bodies no longer match their source maps.
    "sourcemap": ResponseAction.DROP,
    "x-sourcemap": ResponseAction.DROP,
}
