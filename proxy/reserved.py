"""Endpoints the proxy answers itself on every proxied host, under ``/__cb/``.

- ``GET  /__cb/runtime.js``            the injected runtime (cacheable, ETag)
- ``GET  /__cb/cookie?url=<real url>`` ``document.cookie`` for a document of this origin
- ``POST /__cb/cookie``                 ``{"url", "cookie"}``: a ``document.cookie`` write
- ``GET  /__cb/alias?origin=<origin>`` the proxy origin for a real origin (long hosts)
- ``GET  /__cb/sync``                   the sync WebSocket (``proxy.syncws``)

The document URL a page names must belong to the origin of the host it is asked on, so a
page can only read and write the cookies its own origin could.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy import syncws
from proxy.keys import RUNTIME, STORE
from proxy.visit import Visit, persist_aliases
from rewriter.origins import Origin
from sessions.cookies import CookieJar

PREFIX = "/__cb/"
MAX_COOKIE_WRITE = 8192


async def runtime_js(request: web.Request, visit: Visit) -> web.StreamResponse:
    asset = request.app[RUNTIME]
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers={"ETag": asset.etag})
    return web.Response(body=asset.body, content_type="application/javascript", charset="utf-8",
                        headers={"ETag": asset.etag, "Cache-Control": "private, max-age=3600"})


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
        page = _document_url(visit, request.query.get("url"))
        if isinstance(page, web.Response):
            return page
        text = await store.with_jar(visit.session.id, lambda jar: jar.document_cookie(page, now))
        return _no_store(text)
    if request.method != "POST":
        return web.Response(status=405, text="GET or POST only")
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


async def alias(request: web.Request, visit: Visit) -> web.StreamResponse:
    try:
        origin = Origin.parse(request.query.get("origin", ""))
    except ValueError:
        return web.Response(status=400, text="origin must be an absolute http(s) origin")
    proxy_origin = visit.space.proxy_origin(origin)
    await persist_aliases(request, visit)
    return _no_store(proxy_origin)


def _no_store(text: str) -> web.Response:
    return web.Response(text=text, headers={"Cache-Control": "no-store"})


ENDPOINTS: dict[str, Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]] = {
    "runtime.js": runtime_js,
    "cookie": cookie,
    "alias": alias,
    "sync": syncws.sync_socket,
}


async def handle(request: web.Request, visit: Visit) -> web.StreamResponse:
    endpoint = ENDPOINTS.get(request.path[len(PREFIX):])
    if endpoint is None:
        return web.Response(status=404, text="unknown cobrowse endpoint")
    return await endpoint(request, visit)
