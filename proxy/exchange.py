"""The one place every proxied HTTP exchange passes: browser request -> target -> browser.

Steps, in order (each delegated to its authority):
1. request headers rewritten to the target's real values (``rewriter.headers``), the
   browser's cookies dropped and the session jar's added (``sessions.cookies``, SameSite
   judged on the real origins);
2. the request sent through the guarded upstream client (SSRF guard, deadline, no
   redirects followed);
3. response headers rewritten, ``Set-Cookie`` captured into the jar, unsafe redirects refused;
4. HTML and CSS bodies decoded (bounded), rewritten and sent as UTF-8; every other body
   streamed through untouched with bounded memory (``Range`` passes through for them).

Later features (the driver's response store, the audit trail) hook in here and nowhere else.
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy.config import Config
from proxy.keys import CONFIG, RUNTIME, STORE, UPSTREAM
from proxy.pages import error_page
from proxy.upstream import BlockedTarget, BodyTooLarge, UpstreamResponse
from proxy.upstream_errors import refusal_for
from proxy.visit import Visit, persist_aliases
from rewriter.body import charset_of, rewriter_for
from rewriter.headers import (
    RequestContext,
    initiator_origin,
    is_safe_redirect,
    rewrite_request_headers,
    rewrite_response_headers,
)
from rewriter.html import PageContext
from sessions.cookies import CookieJar

NO_BODY_STATUSES = frozenset({204, 205, 304})
STREAM_CHUNK = 64 * 1024


class RequestTooLarge(Exception):
    pass


async def forward(request: web.Request, visit: Visit) -> web.StreamResponse:
    config = request.app[CONFIG]
    if not domain_allowed(config, visit.origin.host):
        return error_page(403, "Site not allowed",
                          f"This co-browsing server does not allow visits to {visit.origin.host}.")
    ctx = RequestContext(url=visit.real_url, space=visit.space, method=request.method)
    browser_headers = list(request.headers.items())
    headers = rewrite_request_headers(browser_headers, ctx)
    initiator = initiator_origin(browser_headers, ctx)
    now = time.time()
    top_level = (request.headers.get("Sec-Fetch-Mode") == "navigate"
                 and request.headers.get("Sec-Fetch-Dest", "document") == "document")
    cookie = await request.app[STORE].with_jar(visit.session.id, lambda jar: jar.cookie_header(
        visit.real_url, now, site_for_cookies=initiator, top_level_navigation=top_level,
        method=request.method))
    if cookie:
        headers.append(("Cookie", cookie))
    try:
        body = await read_request_body(request, config.max_request_body)
    except RequestTooLarge:
        return error_page(413, "Upload too large",
                          f"This request body is larger than the server's limit of {config.max_request_body} bytes.")
    try:
        upstream = await request.app[UPSTREAM].open(request.method, visit.real_url, headers, body)
    except BlockedTarget as exc:
        return error_page(403, "Address not allowed", str(exc))
    except Exception as exc:  # typed upstream failures map to clear pages; anything else is a bug
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        return refusal
    try:
        return await respond(request, visit, ctx, upstream, request.headers.get("Origin"))
    finally:
        upstream.release()


async def respond(request: web.Request, visit: Visit, ctx: RequestContext, upstream: UpstreamResponse,
                  browser_origin: str | None) -> web.StreamResponse:
    config = request.app[CONFIG]
    real_origin = visit.space.from_proxy(browser_origin) if browser_origin else None
    rewritten = rewrite_response_headers(list(upstream.headers), ctx, real_origin)
    now = time.time()
    if rewritten.set_cookies:
        cookies = rewritten.set_cookies
        await request.app[STORE].with_jar(visit.session.id, lambda jar: _store_cookies(
            jar, visit.real_url, cookies, now))
    location = next((v for k, v in upstream.headers if k.lower() == "location"), None)
    if location is not None and 300 <= upstream.status < 400 and not is_safe_redirect(location):
        return error_page(502, "Refused redirect",
                          "The site tried to redirect to an address that is not a web page "
                          "(for example a javascript: URL). The redirect was blocked.")
    content_type = next((v for k, v in upstream.headers if k.lower() == "content-type"), None)
    body_rewriter = rewriter_for(content_type)
    no_body = request.method == "HEAD" or upstream.status in NO_BODY_STATUSES
    out_headers = [(k, v) for k, v in rewritten.headers if k.lower() not in _RESET_ON_REWRITE] \
        if body_rewriter and not no_body else rewritten.headers
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    for name, value in out_headers:
        response.headers.add(name, value)
    response.headers["Content-Security-Policy"] = proxy_csp(config)
    if no_body:
        await response.prepare(request)
        await response.write_eof()
        return response
    if body_rewriter is None:
        return await stream_through(request, response, upstream)
    try:
        raw = await upstream.read_decoded(config.max_rewrite_body)
    except BodyTooLarge as exc:
        return error_page(502, "Page too large", f"The site's response could not be processed safely: {exc}")
    except Exception as exc:
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        return refusal
    page = PageContext(url=visit.real_url, space=visit.space, inject=await _runtime_tag(request, visit))
    body = body_rewriter.rewrite(raw, page, charset_of(content_type))
    await persist_aliases(request, visit)
    response.headers["Content-Type"] = body_rewriter.content_type
    response.content_length = len(body)
    if len(body) > 1024 and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression()
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    return response


_RESET_ON_REWRITE = frozenset({"content-length", "content-encoding", "content-type", "content-md5",
                               "digest", "etag", "accept-ranges", "content-range"})


async def stream_through(request: web.Request, response: web.StreamResponse,
                         upstream: UpstreamResponse) -> web.StreamResponse:
    await response.prepare(request)
    try:
        async for chunk in upstream.iter_raw(STREAM_CHUNK, until_deadline=False):
            await response.write(chunk)
    except Exception as exc:
        if refusal_for(exc) is None:
            raise
        # Headers are gone already: cut the connection so the browser sees a failed transfer,
        # not a silently truncated file.
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


async def read_request_body(request: web.Request, limit: int) -> bytes | None:
    if request.method in ("GET", "HEAD", "OPTIONS") and not request.body_exists:
        return None
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(STREAM_CHUNK):
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _store_cookies(jar: CookieJar, url: str, values: list[str], now: float) -> None:
    for value in values:
        jar.set_from_header(url, value, now)


async def _runtime_tag(request: web.Request, visit: Visit) -> str:
    now = time.time()
    doc_cookie = await request.app[STORE].with_jar(
        visit.session.id, lambda jar: jar.document_cookie(visit.real_url, now))
    config = request.app[CONFIG]
    return request.app[RUNTIME].tag({
        "sid": visit.session.id, "domain": config.domain, "scheme": config.public_scheme,
        "port": config.browser_port, "url": visit.real_url,
        "aliases": {label: str(origin) for label, origin in visit.session.aliases.items()},
        "cookie": doc_cookie, "prefix": "/__cb/", "participant": visit.participant.id,
        "role": visit.participant.role,
    })


def domain_allowed(config: Config, host: str) -> bool:
    def matches(patterns: tuple[str, ...]) -> bool:
        return any(host == p or host.endswith("." + p) for p in patterns)

    if config.deny_domains and matches(config.deny_domains):
        return False
    return not config.allow_domains or matches(config.allow_domains)


def proxy_csp(config: Config) -> str:
    """A CSP that keeps proxied pages inside the proxy space: nothing loads from the real web."""
    port = f":{config.browser_port}"
    ws = "wss" if config.public_scheme == "https" else "ws"
    hosts = (f"{config.public_scheme}://{config.domain}{port} {config.public_scheme}://*.{config.domain}{port} "
             f"{ws}://*.{config.domain}{port}")
    sources = f"'self' {hosts} data: blob: 'unsafe-inline' 'unsafe-eval'"
    return f"default-src {sources}; form-action {sources}; base-uri {sources}"

