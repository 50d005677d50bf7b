"""Endpoints the proxy answers itself on every proxied host, under ``/__cb/``.

- ``GET  /__cb/runtime.js``            the injected runtime (``proxy.runtime_serve``; pages load the control plane's)
- ``GET  /__cb/cookie?url=<real url>`` ``document.cookie`` for a document of this origin
- ``POST /__cb/cookie``                 ``{"url", "cookie"}``: a ``document.cookie`` write
- ``GET  /__cb/alias?origin=<origin>`` the proxy origin for a real origin (long hosts)
- ``GET  /__cb/sync``                   the sync WebSocket (``proxy.syncws``)
- ``POST /__cb/js?kind=...``            rewrite script text built at run time (``proxy.jsendpoint``)

The document URL a page names must belong to the origin of the host it is asked on, so a
page can only read and write the cookies its own origin could. A write must also come from
that origin's page: a ``document.cookie`` write is same-origin by nature, so ``POST
/__cb/cookie`` requires the browser's ``Origin`` to be this host's proxy origin (and, when
sent, ``Sec-Fetch-Site: same-origin``); a page of another origin or session is refused.

The cookie and alias endpoints act for an origin without dialling it, so they apply the
session's target policy at admission (``proxy.targets``): a denied origin gets no jar
cookies and no alias. Aliases are capped per session (``MAX_ALIASES``, 409 past it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy import jsendpoint, runtime_serve, syncws
from proxy.keys import STORE, TARGETS
from proxy.targets import judge_origin, policy_for, refusal_page
from proxy.visit import Visit, store_aliases
from rewriter.origins import Origin
from sessions.cookies import CookieJar
from sessions.model import MAX_ALIASES

PREFIX = "/__cb/"
MAX_COOKIE_WRITE = 8192


async def runtime_js(request: web.Request, visit: Visit) -> web.StreamResponse:
    return runtime_serve.answer(request)


def _document_url(visit: Visit, url: str | None) -> str | web.Response:
    if not url:
        return web.Response(status=400, text="missing url: the real URL of the document")
    try:
        if Origin.parse(url) != visit.origin:
            return web.Response(status=403, text="url must belong to this host's origin")
    except ValueError:
        return web.Response(status=400, text="url must be an absolute http(s) URL")
    return url


async def cookie(request: web.Request, visit: Visit) -> web.StreamResponse:
    store = request.app[STORE]
    now = time.time()
    if request.method == "GET":
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site != "same-origin":
            # Only this origin's own pages read its cookies (CORS and nosniff stop the rest; this
            # refuses before the jar is even read).
            return web.Response(status=403, text="cookies are read only by this site's own pages "
                                                 f"(Sec-Fetch-Site was {site[:40]})")
        page = _document_url(visit, request.query.get("url"))
        if isinstance(page, web.Response):
            return page
        text = await store.with_jar(visit.session.id, lambda jar: jar.document_cookie(page, now))
        return _no_store(text)
    if request.method != "POST":
        return web.Response(status=405, text="GET or POST only")
    foreign = _foreign_writer(request, visit)
    if foreign is not None:
        return web.Response(status=403, text=foreign)
    raw = await request.content.read(MAX_COOKIE_WRITE + 1)
    if len(raw) > MAX_COOKIE_WRITE:
        return web.Response(status=413, text=f"cookie write larger than {MAX_COOKIE_WRITE} bytes")
    try:
        data = json.loads(raw)
        target, value = data["url"], data["cookie"]
        if not isinstance(target, str) or not isinstance(value, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return web.Response(status=400, text='expected JSON {"url": "...", "cookie": "..."}')
    url = _document_url(visit, target)
    if isinstance(url, web.Response):
        return url

    def write(jar: CookieJar) -> str:
        jar.set_from_document(url, value, now)
        return jar.document_cookie(url, now)

    return _no_store(await store.with_jar(visit.session.id, write))


def _foreign_writer(request: web.Request, visit: Visit) -> str | None:
    """Why a cookie write does not come from this host's own pages (None when it does)."""
    own = visit.space.proxy_origin(visit.origin)
    sent = request.headers.get("Origin")
    if sent is None:
        return "a cookie write must carry the Origin header of the page writing it"
    if sent.lower() != own.lower():
        return f"cookie writes are accepted only from this site's own pages ({own}), not from {sent[:200]}"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return f"cookie writes are accepted only from same-origin pages (Sec-Fetch-Site was {site[:40]})"
    return None


async def alias(request: web.Request, visit: Visit) -> web.StreamResponse:
    try:
        origin = Origin.parse(request.query.get("origin", ""))
    except ValueError:
        return web.Response(status=400, text="origin must be an absolute http(s) origin")
    refusal = judge_origin(policy_for(request.app[TARGETS], visit.session), origin)
    if refusal is not None:
        return refusal_page(refusal)
    proxy_origin = visit.space.proxy_origin(origin)
    if await store_aliases(request.app, visit.session, visit.space):
        return web.Response(status=409, text=f"this session already holds its maximum of {MAX_ALIASES} "
                                             "aliases for long host names; no new one can be made")
    return _no_store(proxy_origin)


def _no_store(text: str) -> web.Response:
    return web.Response(text=text, headers={"Cache-Control": "no-store"})


ENDPOINTS: dict[str, Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]] = {
    "runtime.js": runtime_js,
    "cookie": cookie,
    "alias": alias,
    "sync": syncws.sync_socket,
    "js": jsendpoint.rewrite,
}


# Endpoints that act for this host's origin (without dialling it): target policy applies.
_FOR_ORIGIN = frozenset({"cookie", "alias"})


async def handle(request: web.Request, visit: Visit) -> web.StreamResponse:
    name = request.path[len(PREFIX):]
    endpoint = ENDPOINTS.get(name)
    if endpoint is None:
        return web.Response(status=404, text="unknown cobrowse endpoint")
    if name in _FOR_ORIGIN:
        refusal = judge_origin(policy_for(request.app[TARGETS], visit.session), visit.origin)
        if refusal is not None:
            return refusal_page(refusal)
    return await endpoint(request, visit)
