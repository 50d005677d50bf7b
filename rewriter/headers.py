"""Header rewriting between the browser (proxy space) and the target (real URLs).

Headers are ``list[tuple[str, str]]``: order, duplicates and the spelling of names are kept.
What happens to each header is decided in ``header_tables``; this module applies those tables
and owns the two questions they raise: which real origin caused a request, and whether two
URLs are the same *site* (schemeful: scheme plus registrable domain from the Public Suffix List).

Invariants:
- Nothing the browser sends that names a proxy origin reaches the target unmapped: Origin,
  Referer and Ping-* are mapped back through ``ProxySpace.from_proxy`` or dropped when they are
  not of this session's proxy space.
- Sec-Fetch-Site describes the real initiator and target, never the proxy hosts (which are all
  one site to the browser).
- Nothing a response says about a real URL or origin reaches the browser unmapped; a redirect to
  a non-http(s) URL is never forwarded (``is_safe_redirect``; the proxy answers 502 instead).
- Content-Length and Content-Encoding pass through unchanged: the caller owns the body and
  recomputes them whenever it rewrites or re-encodes it.

The Public Suffix List is loaded once per process on first use and never changes after: it is
read-only reference data, not a cache of anything the proxy has seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rewriter.header_tables import (
    ACCEPT_ENCODING,
    REQUEST_ACTIONS,
    REQUEST_DROP_PREFIXES,
    RESPONSE_ACTIONS,
    WEBSOCKET_KEEP,
    RequestAction,
    ResponseAction,
)
from rewriter.origins import Origin
from rewriter.refresh import rewrite_refresh
from rewriter.sites import is_same_site
from rewriter.space import ProxySpace
from rewriter.urls import Kind, is_navigable, origin_of, split_reference

Headers = list[tuple[str, str]]



@dataclass(frozen=True, slots=True)
class RequestContext:
    """One proxied request: its real target URL, the session's space and the method."""

    url: str
    space: ProxySpace
    method: str


@dataclass(frozen=True, slots=True)
class ResponseHeaders:
    """A target's response headers made ready for the browser."""

    headers: Headers  # rewritten, for the browser
    set_cookies: list[str]  # the raw Set-Cookie values, for the jar; never forwarded
    unsafe_redirect: bool = False  # a Location with a non-http(s) scheme was removed


def _origin_str(url: str) -> str | None:
    try:
        return str(Origin.parse(url))
    except ValueError:
        return None


# -- requests ---------------------------------------------------------------------------


def _real_origin(value: str, space: ProxySpace) -> str | None:
    """The real origin behind a proxy origin or URL of this session, else None."""
    ref = split_reference(value, None)
    proxy = origin_of(ref.scheme, ref.authority) if ref.kind is Kind.NETWORK else None
    origin = space.origin_for_host(proxy.host) if proxy is not None else None
    return str(origin) if origin is not None else None


def _is_control_plane(value: str, space: ProxySpace) -> bool:
    try:
        host = urlsplit(value.strip()).hostname
    except ValueError:
        return False
    return host is not None and host.rstrip(".") == space.domain


def _opaque_origin(headers: Headers) -> bool:
    return any(n.lower() == "origin" and v.strip() == "null" for n, v in headers)


def initiator_origin(headers: Headers, ctx: RequestContext) -> str | None:
    """Real origin that caused this request (from Origin, else Referer), if known."""
    for wanted in ("origin", "referer"):
        for name, value in headers:
            if name.lower() == wanted and value.strip() != "null":
                return _real_origin(value, ctx.space)
    return None


def _fetch_site(browser_value: str, initiator: str | None, headers: Headers, ctx: RequestContext) -> str:
    """Sec-Fetch-Site for the real initiator and target.

    The browser's own value compares proxy hosts, which are all one site, so only "none" and
    "same-origin" survive unchanged when the real initiator is unknown (proxy origins are one
    to one with real origins). A request started from the control plane (the leader link) is
    as good as typed in: "none".
    """
    value = browser_value.strip().lower()
    if value == "cross-site" or _opaque_origin(headers):
        # The browser's "cross-site" (an initiator outside every session host) and an opaque
        # Origin are facts page script cannot forge: never upgraded by a Referer (as the jar's
        # SameSite judgement in sessions/cookie_rules.py reads them too).
        return "cross-site"
    if initiator is None:
        named = (v for n, v in headers if n.lower() in ("origin", "referer"))
        if any(_is_control_plane(v, ctx.space) for v in named):
            return "none"
        return value if value in ("none", "same-origin") else "cross-site"
    if initiator == _origin_str(ctx.url):
        return "same-origin"
    return "same-site" if is_same_site(initiator, ctx.url) else "cross-site"


def _accept_encoding(value: str) -> str:
    # Media range requests ask for identity only: a coded body would shift the byte offsets.
    codings = {part.split(";", 1)[0].strip().lower() for part in value.split(",")}
    if codings <= {"identity", "*"} and "identity" in codings:
        return value
    return ACCEPT_ENCODING


def _connection_tokens(headers: Headers) -> set[str]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }


def is_websocket_upgrade(headers: Headers) -> bool:
    """True for a WebSocket opening handshake (Upgrade: websocket with Connection: upgrade)."""
    upgrade = any(n.lower() == "upgrade" and "websocket" in v.lower() for n, v in headers)
    return upgrade and "upgrade" in _connection_tokens(headers)


def rewrite_request_headers(headers: Headers, ctx: RequestContext, *, websocket: bool = False) -> Headers:
    """The browser's request headers made fit for the target.

    With ``websocket=True`` (use ``is_websocket_upgrade``) the handshake headers in
    ``header_tables.WEBSOCKET_KEEP`` are kept; otherwise Upgrade and every Sec-WebSocket-* go.
    """
    listed = _connection_tokens(headers) - ({"upgrade"} if websocket else set())
    initiator = initiator_origin(headers, ctx)
    out: Headers = []
    for name, value in headers:
        lower = name.lower()
        if websocket and lower in WEBSOCKET_KEEP:
            out.append((name, "Upgrade" if lower == "connection" else value))
            continue
        if lower in listed or lower.startswith(REQUEST_DROP_PREFIXES):
            continue
        action = REQUEST_ACTIONS.get(lower)
        if action is None:
            out.append((name, value))
            continue
        new = _REQUEST_HANDLERS[action](value, initiator, headers, ctx)
        if new is not None:
            out.append((name, new))
    return out


def _req_drop(value: str, initiator: str | None, headers: Headers, ctx: RequestContext) -> str | None:
    return None


def _req_origin(value: str, initiator: str | None, headers: Headers, ctx: RequestContext) -> str | None:
    if value.strip() == "null":
        return "null"
    return _real_origin(value, ctx.space)


def _req_url_back(value: str, initiator: str | None, headers: Headers, ctx: RequestContext) -> str | None:
    # from_proxy leaves URLs outside this session's space unchanged; those are dropped.
    proxy_url = value.strip()
    real = ctx.space.from_proxy(proxy_url)
    return real if real != proxy_url else None


def _req_fetch_site(value: str, initiator: str | None, headers: Headers, ctx: RequestContext) -> str | None:
    return _fetch_site(value, initiator, headers, ctx)


def _req_accept_encoding(
    value: str, initiator: str | None, headers: Headers, ctx: RequestContext
) -> str | None:
    return _accept_encoding(value)


_RequestHandler = Callable[[str, str | None, Headers, RequestContext], str | None]
_REQUEST_HANDLERS: dict[RequestAction, _RequestHandler] = {
    RequestAction.DROP: _req_drop,
    RequestAction.ORIGIN: _req_origin,
    RequestAction.URL_BACK: _req_url_back,
    RequestAction.FETCH_SITE: _req_fetch_site,
    RequestAction.ACCEPT_ENCODING: _req_accept_encoding,
}


# -- responses --------------------------------------------------------------------------


def is_safe_redirect(location: str) -> bool:
    """False when a Location would take the browser to a non-http(s) URL (javascript:, data:...)."""
    return is_navigable(location)


def _map_url(value: str, ctx: RequestContext) -> str | None:
    return ctx.space.to_proxy(value, ctx.url)


def _map_refresh(value: str, ctx: RequestContext) -> str | None:
    """The one refresh parser (``rewriter.refresh``); a non-http(s) URL drops the header."""
    return rewrite_refresh(value, lambda url: ctx.space.to_proxy(url, ctx.url))


def _map_link(value: str, ctx: RequestContext) -> str | None:
    """Rewrite each ``<uri>`` of an RFC 8288 Link list; params (quoted strings included) are kept.

    One pass, no backtracking: a ``<`` opens a URI only where a link value starts.
    """
    out: list[str] = []
    i, n = 0, len(value)
    at_value_start = True
    while i < n:
        ch = value[i]
        if ch == "<" and at_value_start:
            end = value.find(">", i + 1)
            if end < 0:
                out.append(value[i:])
                break
            out.append("<" + ctx.space.to_proxy(value[i + 1 : end], ctx.url) + ">")
            i = end + 1
            at_value_start = False
            continue
        if ch == '"':
            end = i + 1
            while end < n and value[end] != '"':
                end += 2 if value[end] == "\\" else 1
            out.append(value[i : end + 1])
            i = end + 1
            continue
        if ch == ",":
            at_value_start = True
        elif not ch.isspace():
            at_value_start = False
        out.append(ch)
        i += 1
    return "".join(out)


def _proxy_origin_of(value: str, ctx: RequestContext) -> str | None:
    try:
        return ctx.space.proxy_origin(Origin.parse(value))
    except (ValueError, KeyError):
        return None


def _map_origin_list(value: str, ctx: RequestContext) -> str | None:
    """Timing-Allow-Origin: "*" or origins separated by spaces or commas; unparsable ones go."""
    parts = [p for p in re.split(r"[\s,]+", value.strip()) if p]
    if "*" in parts:
        return "*"
    mapped = [m for m in (_proxy_origin_of(p, ctx) for p in parts) if m is not None]
    return " ".join(mapped) if mapped else None


_SF_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _map_url_list(value: str, ctx: RequestContext) -> str | None:
    """Structured-field list of strings (Speculation-Rules): each string is a URL."""

    def one(match: re.Match[str]) -> str:
        url = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
        mapped = ctx.space.to_proxy(url, ctx.url)
        return '"' + mapped.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _SF_STRING_RE.sub(one, value)


def rewrite_response_headers(
    headers: Headers, ctx: RequestContext, request_origin: str | None
) -> ResponseHeaders:
    """The target's response headers made fit for the browser.

    ``request_origin`` is the real Origin the proxy sent upstream (None when it sent none).
    Access-Control-Allow-Origin is mapped to the proxy origin of the real origin it names, and
    only when that is the request's origin: an allowance for any other origin would be refused
    by the browser anyway, and mapping it would mint a proxy host the target chose.
    """
    listed = _connection_tokens(headers)
    out: Headers = []
    set_cookies: list[str] = []
    unsafe = False
    for name, value in headers:
        lower = name.lower()
        action = RESPONSE_ACTIONS.get(lower)
        if action is ResponseAction.CAPTURE:
            set_cookies.append(value)
            continue
        if lower in listed:
            continue
        if action is None:
            out.append((name, value))
            continue
        if action is ResponseAction.MAP_REDIRECT and not is_safe_redirect(value):
            unsafe = True
            continue
        if action is ResponseAction.MAP_ACAO:
            new = _map_acao(value, ctx, request_origin)
        else:
            new = _RESPONSE_HANDLERS[action](value, ctx)
        if new is not None:
            out.append((name, new))
    return ResponseHeaders(out, set_cookies, unsafe)


def _map_acao(value: str, ctx: RequestContext, request_origin: str | None) -> str | None:
    stripped = value.strip()
    if stripped in ("*", "null"):
        return stripped
    allowed = _origin_str(stripped)
    if allowed is None or (request_origin is not None and allowed != _origin_str(request_origin)):
        return None
    return _proxy_origin_of(allowed, ctx)


def _resp_drop(value: str, ctx: RequestContext) -> str | None:
    return None


_RESPONSE_HANDLERS: dict[ResponseAction, Callable[[str, RequestContext], str | None]] = {
    ResponseAction.DROP: _resp_drop,
    ResponseAction.MAP_URL: _map_url,
    ResponseAction.MAP_REDIRECT: _map_url,
    ResponseAction.MAP_REFRESH: _map_refresh,
    ResponseAction.MAP_LINK: _map_link,
    ResponseAction.MAP_ORIGIN_LIST: _map_origin_list,
    ResponseAction.MAP_URL_LIST: _map_url_list,
}

__all__ = [
    "RequestContext",
    "ResponseHeaders",
    "initiator_origin",
    "is_safe_redirect",
    "is_websocket_upgrade",
    "rewrite_request_headers",
    "rewrite_response_headers",
]
