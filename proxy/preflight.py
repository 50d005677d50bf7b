"""CORS preflights on proxy hosts: the one kind of request that arrives without a credential.

Browsers never attach cookies to a preflight, so the participant cookie cannot be checked.
A preflight is admitted only when its ``Origin`` is a proxy origin of the same session whose
real origin a participant has already reached with a credential (``Session.reached_origins``,
recorded at admission): knowing the session id is not enough to make the proxy send requests.
It goes to the target through the upstream client with the session's target policy (bad
ports, domain lists, SSRF guard), and only ever as a preflight: no cookies, no body, nothing
but the CORS request headers a browser sends. Its answer is shared
by the session's participants (``sessions.preflight``), so followers add no target hits. Each
preflight is one record in the session's audit trail, without a participant (it carries no
credential): ``upstream`` when it went to the target, ``store`` when the shared answer served it.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from aiohttp import web

from proxy.audit_trace import PreflightTrace
from proxy.keys import RESPONSES, TARGETS, UPSTREAM
from proxy.pages import error_page
from proxy.targets import policy_for
from proxy.upstream_errors import refusal_for
from proxy.visit import Place
from rewriter.headers import RequestContext, rewrite_request_headers, rewrite_response_headers
from sessions.preflight import preflight_key

MAX_PREFLIGHT_BODY = 64 * 1024


def is_preflight(request: web.Request) -> bool:
    return (request.method == "OPTIONS" and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers)


async def answer(request: web.Request, place: Place) -> web.StreamResponse:
    """The preflight's answer, recorded in the session's audit trail (``proxy.audit_trace``)."""
    trace = PreflightTrace.begin(request, place)
    response = await _answer(request, place, trace)
    trace.finish(request, response)
    return response


async def _answer(request: web.Request, place: Place, trace: PreflightTrace) -> web.StreamResponse:
    browser_origin = request.headers["Origin"]
    asking = place.space.origin_for_host(urlsplit(browser_origin).netloc) if "//" in browser_origin else None
    if asking is None:
        return error_page(403, "Not a page of this session",
                          "CORS preflights are answered only for pages of the same co-browsing session.")
    if str(asking) not in place.session.reached_origins:
        return error_page(403, "Page not opened in this session",
                          "CORS preflights are answered only for pages a participant of this session has "
                          "opened. Load the page through the co-browsing link first.")
    real_url = place.real_url(request)
    key = preflight_key(real_url, str(asking), request.headers["Access-Control-Request-Method"],
                        request.headers.get("Access-Control-Request-Headers", ""))
    cache = request.app[RESPONSES].for_session(place.session.id).preflights
    now = time.time()
    cached = await cache.get(key, now)
    if cached is not None:
        trace.path = "store"
    else:
        ctx = RequestContext(url=real_url, space=place.space, method="OPTIONS")
        headers = rewrite_request_headers(list(request.headers.items()), ctx)
        trace.path, trace.request_headers = "upstream", tuple(headers)
        try:
            upstream = await request.app[UPSTREAM].open(
                "OPTIONS", real_url, headers, None, policy=policy_for(request.app[TARGETS], place.session))
        except Exception as exc:
            refusal = refusal_for(exc)
            if refusal is None:
                raise
            trace.error = exc.__class__.__name__
            return refusal
        try:
            await upstream.read_decoded(MAX_PREFLIGHT_BODY)  # a preflight's body means nothing
        except Exception as exc:
            if refusal_for(exc) is None:
                raise
        finally:
            upstream.release()
        rewritten = rewrite_response_headers(list(upstream.headers), ctx, str(asking))
        kept = tuple((k, v) for k, v in rewritten.headers
                     if k.lower() not in ("content-length", "content-encoding", "transfer-encoding"))
        cached = await cache.put(key, upstream.status, upstream.reason, kept, now)
    response = web.Response(status=cached.status, reason=cached.reason)
    for name, value in cached.headers:
        response.headers.add(name, value)
    # CSP, nosniff and Referrer-Policy are added as the head is sent (proxy.security_headers).
    return response
