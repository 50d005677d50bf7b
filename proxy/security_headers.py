"""The one authority on the security headers cobrowse adds to what it answers.

Three kinds of answer, three policies:

- **Proxied answers** (any response on a session host: exchanges, preflights, reserved
  endpoints, error pages there). The hook ``preparer`` makes runs for every response before its
  head is sent (``on_response_prepare``), so no path can forget it:
  ``Content-Security-Policy`` keeps the page inside the proxy space (``proxy_csp``; a response
  that already carries a policy of its own, such as an error page, keeps it),
  ``X-Content-Type-Options: nosniff``, and a ``Referrer-Policy`` no looser than
  ``strict-origin-when-cross-origin`` (``referrer_policy``).
- **Our own pages** (console, join page, error pages): ``page_headers`` gives a strict CSP whose
  only script and style are the page's own inline blocks, allowed by hash, never
  ``'unsafe-inline'``; ``frame-ancestors 'none'`` unless the page may be framed (an error page
  can stand in for a subresource iframe of a proxied page); no referrer at all, since control
  plane URLs carry tickets and invitations.
- **After the end**: a session's hosts answer ``Clear-Site-Data: "cache", "storage"``
  (``CLEAR_SITE_DATA``) so what the session left in the browser for that origin (local and
  session storage, IndexedDB, Cache Storage, service workers, HTTP cache) is gone. The ended
  page also loads a hidden image from each other origin the session reached, so one visit
  clears them all (Chromium honours the header on subresource answers too).
  Not ``"cookies"``: it would clear the whole registrable domain, which is every session's
  hosts and the control plane, and log every participant of every other session out.
  Not ``"executionContexts"``: it asks the browser to reload the origin's documents, and the
  reloaded 410 page would ask again (a reload loop wherever a browser implements it).

Why ``strict-origin-when-cross-origin`` and not ``same-origin`` for proxied pages: all of a
session's hosts are proxy hosts, and the proxy maps a proxy ``Referer`` back to the real one, so
cross-origin requests inside the session must keep their origin-only referrer (CDNs and
hotlink checks rely on it, as they do without the proxy). Only the origin ever leaves a page,
never its path or query; the origin names the session id, which is not a credential (the
participant cookie is). A target's own policy is kept when it is at least as strict; a page's
``<meta name="referrer">`` can still loosen it (limit: the HTML rewriter does not touch it).

Why ``nosniff`` on every proxied answer: only HTML the rewriter saw may render as a page. A body
streamed untouched (``text/plain``, JSON, an upload) must not be sniffed into HTML or script
that never got the runtime. The cost: a target script or stylesheet served with a wrong type
is refused where a browser without the proxy might have sniffed it.

Why not on a type-less answer (``UNTYPED``: the target sent no ``Content-Type``, the body passes
untouched): nosniff changes what such a body is. Checked in Chromium: without the header a
type-less HTML document renders as HTML (its scripts run) and ``<?xml`` shows as XML; with it
both show as plain text. The proxy promises the page behaves as it does directly, and the body
is exactly what the target sent, so the browser must sniff it as it would directly. Type-less
documents that sniff as HTML or XML never get here untyped: the proxy rewrites them and sends
the type (``rewriter.body.sniff``). The same hook removes the ``application/octet-stream``
aiohttp gives any body without a type (it is set before ``on_response_prepare`` runs), which
makes Chromium download the page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from proxy.config import Config
from proxy.door import proxy_host

NOSNIFF = ("X-Content-Type-Options", "nosniff")
# Set on a response that must leave without Content-Type (and so without nosniff).
UNTYPED = web.ResponseKey("untyped", bool)
PROXY_REFERRER_POLICY = "strict-origin-when-cross-origin"
CLEAR_SITE_DATA = '"cache", "storage"'
# Policies that never send more than ``strict-origin-when-cross-origin`` would: a target's own
# choice among these is kept. Every other token (``unsafe-url``, ``origin``, ...) is looser.
_AT_LEAST_AS_STRICT = frozenset({"no-referrer", "same-origin", "strict-origin", PROXY_REFERRER_POLICY})
_KNOWN_POLICIES = _AT_LEAST_AS_STRICT | {"no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
                                         "unsafe-url"}
_INLINE = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def proxy_csp(config: Config) -> str:
    """A CSP that keeps proxied pages inside the proxy space: nothing loads from the real web."""
    port = f":{config.browser_port}"
    ws = "wss" if config.public_scheme == "https" else "ws"
    hosts = (f"{config.public_scheme}://{config.domain}{port} {config.public_scheme}://*.{config.domain}{port} "
             f"{ws}://*.{config.domain}{port}")
    sources = f"'self' {hosts} data: blob: 'unsafe-inline' 'unsafe-eval'"
    return f"default-src {sources}; form-action {sources}; base-uri {sources}"


def referrer_policy(target_values: Iterable[str]) -> str:
    """The ``Referrer-Policy`` a proxied answer carries, given the target's header values.

    As browsers do, the last recognised token wins; it is kept when at least as strict as
    ``strict-origin-when-cross-origin``, else (or when absent) that is the policy.
    """
    tokens = [t.strip().lower() for value in target_values for t in value.split(",")]
    chosen = next((t for t in reversed(tokens) if t in _KNOWN_POLICIES), "")
    return chosen if chosen in _AT_LEAST_AS_STRICT else PROXY_REFERRER_POLICY


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_csp(page: str, *, connect: str = "'none'", form_action: str = "'none'", framable: bool = False,
             images: str = "") -> str:
    """A strict CSP for one of our own HTML pages: its inline scripts and styles by hash, nothing else."""
    blocks: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(page):
        blocks[kind.lower()].append(_hash(body))
    scripts = " ".join(blocks["script"]) or "'none'"
    styles = " ".join(blocks["style"]) or "'none'"
    directives = [
        "default-src 'none'", f"script-src {scripts}", f"style-src {styles}", f"img-src 'self' data: {images}".rstrip(),
        f"connect-src {connect}", f"form-action {form_action}", "base-uri 'none'",
    ]
    if not framable:
        directives.append("frame-ancestors 'none'")
    return "; ".join(directives)


def page_headers(page: str, *, connect: str = "'none'", form_action: str = "'none'",
                 framable: bool = False, images: str = "") -> dict[str, str]:
    """Every security header of one of our own pages (see ``page_csp``)."""
    headers = {
        "Content-Security-Policy": page_csp(page, connect=connect, form_action=form_action, framable=framable,
                                            images=images),
        "Referrer-Policy": "no-referrer",
        NOSNIFF[0]: NOSNIFF[1],
    }
    if not framable:
        headers["X-Frame-Options"] = "DENY"
    return headers


def session_hosts(config: Config) -> str:
    """CSP source for every proxy host (a form posted to ``/join`` redirects into one)."""
    return f"{config.public_scheme}://*.{config.domain}:{config.browser_port}"


def preparer(config: Config) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The ``on_response_prepare`` hook: nosniff on every typed answer; on session hosts, the proxied policy."""
    csp = proxy_csp(config)

    async def apply(request: web.Request, response: web.StreamResponse) -> None:
        if response.get(UNTYPED):
            response.headers.popall("Content-Type", None)
        else:
            response.headers.setdefault(*NOSNIFF)
        if proxy_host(request, config.domain) is None:
            return
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["Referrer-Policy"] = referrer_policy(response.headers.getall("Referrer-Policy", []))

    return apply
