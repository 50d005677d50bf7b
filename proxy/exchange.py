"""The one place every proxied HTTP exchange passes: browser request -> target -> browser.

Steps, in order (each delegated to its authority):
1. request headers rewritten to the target's real values (``rewriter.headers``), the
   browser's cookies dropped and the session jar's added (``sessions.cookies``, SameSite
   judged on the real origins);
2. the request sent through the guarded upstream client (target policy, SSRF guard,
   deadline, no redirects followed);
3. response headers rewritten, ``Set-Cookie`` captured into the jar, unsafe redirects refused;
4. HTML and CSS bodies, and XML ones loaded as documents (``rewriter.body``), decoded
   (bounded), rewritten and sent as UTF-8 (HTML as it arrives, for the driver and for followers:
   ``proxy.rewrite_stream``); every other body streamed through untouched with
   bounded memory (``Range`` passes through for them). A body without ``Content-Type`` leaves
   without one (``security_headers.UNTYPED``), unless it is a document that sniffs as HTML or
   XML (``rewriter.body.sniff`` on its first bytes, when it is not content-encoded): that one
   is rewritten and sent with the type the browser would have given it.

Fetch once: only the session's *driver* (the participant in control, ``Session.controller``)
reaches the target. Each of its exchanges is recorded in the session's response store, which
every server process shares (``sessions.responses``: status, reason and headers as received, the body decoded for
rewritten types and raw for the rest) under its match key (``sessions.matching``). Every
other participant's request, whatever its method, is answered from the store: paired with
the driver's, waiting up to ``Config.follower_wait`` for it, else a clear 504. Header and body
rewriting run again for each participant served (the runtime tag names the participant), and
a follower's copy never touches the jar: the driver's ``Set-Cookie`` was stored once.
Streamed bodies are teed into the store while the driver receives them (up to
``Config.share_max_response``; a larger one reaches followers as a 502 "too large to share").
The driver's conditional headers (``If-None-Match``, ``If-Modified-Since``) are not sent
upstream, so every recorded answer has a body a follower can use (it costs bytes, never
requests). Following (``docs/sync-protocol.md``): when the driver's window loads a page that
carries no runtime, the sync hub is told (``SyncHub.announce``), since nothing on that page will
say where the driver went; a follower's top-level copy of a JSON or plain-text page is the page
the browser builds to show it, with the runtime (``rewriter.textview``).

The audit trail hooks in here (``proxy.audit_trace``): one record per exchange, emitted when
the participant's answer is complete, whichever path answered it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from aiohttp import web

from proxy.audit_trace import Trace
from proxy.decoding import DecodeError, DecodeLimits, decode_all, parse_encodings
from proxy.heads import response_for
from proxy.keys import CONFIG, RESPONSES, RUNTIME, SCRIPTS, STORE, SYNC, TARGETS, UPSTREAM
from proxy.pages import error_page
from proxy.rewrite_stream import Broken, send_streamed
from proxy.security_headers import UNTYPED
from proxy.seeding import page_seed
from proxy.targets import policy_for
from proxy.upstream import BlockedTarget, BodyTooLarge, UpstreamResponse
from proxy.upstream_errors import refusal_for
from proxy.visit import Visit, persist_aliases
from proxy.worker_runtime import worker_prelude
from rewriter.body import SNIFF_BYTES, BodyRewriter, charset_of, rewriter_for, script_kind, sniff
from rewriter.headers import (
    RequestContext,
    ResponseHeaders,
    initiator_origin,
    is_safe_redirect,
    rewrite_request_headers,
    rewrite_response_headers,
)
from rewriter.html import BufferLimit, PageContext
from rewriter.textview import shown_as_text, text_view
from sessions.branding import chrome
from sessions.cookie_rules import FetchMetadata, SameSiteContext, same_site_context
from sessions.cookies import CookieJar
from sessions.matching import RequestKey, key_for
from sessions.responses import Entry, Failure, Head, ResponseStore, commits

log = logging.getLogger(__name__)

NO_BODY_STATUSES = frozenset({204, 205, 304})
STREAM_CHUNK = 64 * 1024


# Dropped from the driver's request so the target answers with a body followers can share.
_CONDITIONAL = frozenset({"if-none-match", "if-modified-since"})
_DOCUMENT_DESTS = frozenset({"document", "iframe", "frame"})
# Destinations the browser renders as a document (XML rewritten, type-less bodies sniffed).
_RENDERED_DESTS = _DOCUMENT_DESTS | {"object", "embed"}


class RequestTooLarge(Exception):
    pass


def _ignore(chunk: bytes) -> None:
    """No audit tee."""


async def forward(request: web.Request, visit: Visit) -> web.StreamResponse:
    trace = Trace.begin(request, visit, navigation=_is_navigation(request))
    response = None
    try:
        response = await _forward(request, visit, trace)
        return response
    finally:
        trace.finish(request, response)


async def _forward(request: web.Request, visit: Visit, trace: Trace) -> web.StreamResponse:
    config = request.app[CONFIG]
    ctx = RequestContext(url=visit.real_url, space=visit.space, method=request.method)
    try:
        body = await read_request_body(request, config.max_request_body)
    except RequestTooLarge:
        trace.answered_locally("request body too large")
        return error_page(413, "Upload too large",
                          f"This request body is larger than the server's limit of {config.max_request_body} bytes.")
    trace.body_in(body)
    key = key_for(request.method, visit.real_url, request.headers.get("Content-Type"), body,
                  request.headers.get("Range"))
    responses = request.app[RESPONSES].for_session(visit.session.id)
    if not is_driver(visit):
        trace.from_store()
        return await replay(request, visit, ctx, responses, key, trace)
    headers = [(k, v) for k, v in await upstream_headers(request, visit, ctx) if k.lower() not in _CONDITIONAL]
    trace.sent(headers, body)
    try:
        upstream = await request.app[UPSTREAM].open(request.method, visit.real_url, headers, body,
                                                     policy=policy_for(request.app[TARGETS], visit.session))
    except Exception as exc:  # typed upstream failures map to clear pages; anything else is a bug
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        trace.refused(exc)
        if isinstance(exc, BlockedTarget):
            # The target's host is named, never the path or query (they may carry secrets).
            log.warning("upstream.blocked session=%s participant=%s host=%s", visit.session.id,
                        visit.participant.id, visit.origin.host)
        await responses.failed(visit.participant.id, key, visit.real_url, _failure_of(refusal),
                               page=_is_navigation(request))
        return refusal
    try:
        return await respond(request, visit, ctx, upstream, responses, key, trace)
    finally:
        upstream.release()


async def upstream_headers(request: web.Request, visit: Visit, ctx: RequestContext, *,
                           websocket: bool = False) -> list[tuple[str, str]]:
    """The headers the target gets: the browser's, rewritten to the real URLs, plus the session
    jar's cookies (SameSite judged on the real initiator, never on the proxy hosts); none for
    a request the browser sent without credentials."""
    browser_headers = list(request.headers.items())
    headers = rewrite_request_headers(browser_headers, ctx, websocket=websocket)
    if not visit.credentialed:
        return headers
    context = same_site_context_of(browser_headers, ctx)
    now = time.time()
    cookie = await request.app[STORE].with_jar(visit.session.id, lambda jar: jar.cookie_header(
        visit.real_url, now, context=context))
    if cookie:
        headers.append(("Cookie", cookie))
    return headers


def same_site_context_of(browser_headers: list[tuple[str, str]], ctx: RequestContext) -> SameSiteContext:
    """The request's SameSite context: the browser's Fetch Metadata with the real initiator."""
    return same_site_context(ctx.url, ctx.method, initiator_origin(browser_headers, ctx),
                             FetchMetadata.from_headers(browser_headers))


def is_driver(visit: Visit) -> bool:
    """The participant in control drives (the leader when no one valid is named)."""
    session = visit.session
    controller = session.controller if session.active_participant(session.controller) else session.leader_id
    return controller == visit.participant.id


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one participant's copy of a response is built from the target's head."""

    headers: ResponseHeaders
    rewriter: BodyRewriter | None
    no_body: bool
    response: web.StreamResponse


def _plan(request: web.Request, visit: Visit, ctx: RequestContext, head: Head, *, document: bool,
          sniffed: str | None = None, script: bool | str | None = False) -> _Plan | web.Response:
    browser_origin = request.headers.get("Origin")
    real_origin = visit.space.from_proxy(browser_origin) if browser_origin else None
    rewritten = rewrite_response_headers(list(head.headers), ctx, real_origin)
    location = head.header("Location")
    if location is not None and 300 <= head.status < 400 and not is_safe_redirect(location):
        return error_page(502, "Refused redirect",
                          "The site tried to redirect to an address that is not a web page "
                          "(for example a javascript: URL). The redirect was blocked.")
    content_type = (head.header("Content-Type") or "").strip() or None  # an empty value is no type
    body_rewriter = rewriter_for(content_type or sniffed, document=document, script=script)
    if body_rewriter is not None and body_rewriter.scripts_only and _too_big_to_rewrite(head):
        body_rewriter = None  # streamed as it came: buffering it could exceed max_rewrite_body
    no_body = request.method == "HEAD" or head.status in NO_BODY_STATUSES
    out_headers = [(k, v) for k, v in rewritten.headers if k.lower() not in _RESET_ON_REWRITE] \
        if body_rewriter and not no_body else rewritten.headers
    response = response_for(head.status, head.reason, rewritten=body_rewriter is not None,
                            length_known=no_body or head.header("Content-Length") is not None)
    for name, value in out_headers:
        response.headers.add(name, value)
    if content_type is None and body_rewriter is None:
        response[UNTYPED] = True
    # CSP, nosniff and Referrer-Policy are added as the head is sent (proxy.security_headers).
    return _Plan(rewritten, body_rewriter, no_body, response)


async def respond(request: web.Request, visit: Visit, ctx: RequestContext, upstream: UpstreamResponse,
                  responses: ResponseStore, key: RequestKey, trace: Trace) -> web.StreamResponse:
    """The driver's copy: cookies into the jar, the exchange into the store, the body to the browser."""
    config = request.app[CONFIG]
    head = Head(upstream.status, upstream.reason, tuple(upstream.headers), visit.real_url)
    trace.answered(head)
    document = _loads_as_document(request)
    script = script_kind(request.headers.get("Sec-Fetch-Dest"))
    plan = _plan(request, visit, ctx, head, document=document, script=script)
    if isinstance(plan, web.Response):
        await responses.failed(visit.participant.id, key, visit.real_url, _failure_of(plan),
                               page=_is_navigation(request))
        return plan
    prefix = b""
    if plan.response.get(UNTYPED) and document and not plan.no_body and not head.header("Content-Encoding"):
        try:
            prefix = await _peek(upstream, SNIFF_BYTES)
        except Exception as exc:
            refusal = refusal_for(exc)
            if refusal is None:
                raise
            await responses.failed(visit.participant.id, key, visit.real_url, _failure_of(refusal),
                                   page=_is_navigation(request))
            return refusal
        sniffed = sniff(prefix)
        if sniffed is not None:
            plan = _plan(request, visit, ctx, head, document=document, sniffed=sniffed, script=script)
            assert not isinstance(plan, web.Response)  # the head was accepted just above
    now = time.time()
    if plan.headers.set_cookies and visit.credentialed:
        cookies = plan.headers.set_cookies
        context = same_site_context_of(list(request.headers.items()), ctx)
        top_level = _is_navigation(request)
        await request.app[STORE].with_jar(visit.session.id, lambda jar: _store_cookies(
            jar, visit.real_url, cookies, now, context, top_level))
    raw = plan.rewriter is None and not plan.no_body
    top_level = _is_navigation(request)
    entry = await responses.begin(visit.participant.id, key, head, raw=raw, document=_is_document(request, head),
                                  page=top_level)
    if top_level and commits(head) and not _carries_runtime(plan):
        # No runtime in that page will say where the driver went: the server tells followers.
        await request.app[SYNC].announce(visit.session, visit.real_url)
    if plan.no_body:
        await responses.finish(entry)
        return await _send_empty(request, plan.response)
    if plan.rewriter is None:
        return await stream_through(request, plan.response, upstream, responses, entry, prefix, trace.body_out)
    if plan.rewriter.stream is not None and head.status < 400:
        return await _stream_rewritten(request, visit, plan, head, upstream, prefix, responses, entry, trace)
    try:
        decoded = prefix + await upstream.read_decoded(config.max_rewrite_body - len(prefix))
    except Exception as exc:
        return await _body_failed(responses, entry, exc)
    except BaseException:  # cancelled (the driver went away): followers must not wait forever
        await responses.fail(entry, _BROKEN)
        raise
    await responses.append(entry, decoded)
    await responses.finish(entry)
    trace.body_out(decoded, decoded=True)
    return await _send_rewritten(request, visit, plan, head, decoded)


async def _stream_rewritten(request: web.Request, visit: Visit, plan: _Plan, head: Head, upstream: UpstreamResponse,
                            prefix: bytes, responses: ResponseStore, entry: Entry, trace: Trace) -> web.StreamResponse:
    """The driver's copy of a body whose rewriter streams (``proxy.rewrite_stream``): recorded
    decoded for followers piece by piece, rewritten and sent as it arrives."""
    assert plan.rewriter is not None

    async def pieces() -> AsyncIterator[bytes]:
        if prefix:
            yield prefix
        async for piece in upstream.iter_decoded():
            yield piece

    async def tee(piece: bytes) -> None:
        await responses.append(entry, piece)
        trace.body_out(piece, decoded=True)

    try:
        response = await send_streamed(
            request, visit, plan.response, plan.rewriter, await _page_context(request, visit, plan),
            charset_of(head.header("Content-Type")), request.app[CONFIG].max_rewrite_body, pieces(), tee)
    except Broken:
        await responses.fail(entry, _BROKEN)
        return plan.response
    except Exception as exc:
        return await _body_failed(responses, entry, exc)
    except BaseException:  # cancelled (the driver went away): followers must not wait forever
        await responses.fail(entry, _BROKEN)
        raise
    await responses.finish(entry)
    return response


async def _body_failed(responses: ResponseStore, entry: Entry, exc: Exception) -> web.Response:
    """The driver's answer when its body could not be read or rewritten before anything was
    sent (followers get the same failure); an error that is no refusal is raised again."""
    if isinstance(exc, (BodyTooLarge, BufferLimit)):
        page = error_page(502, "Page too large", f"The site's response could not be processed safely: {exc}")
        await responses.fail(entry, _failure_of(page))
        return page
    refusal = refusal_for(exc)
    await responses.fail(entry, _failure_of(refusal or error_page(502, "Broken", "")))
    if refusal is None:
        raise exc
    return refusal


async def replay(request: web.Request, visit: Visit, ctx: RequestContext, responses: ResponseStore,
                 key: RequestKey, trace: Trace) -> web.StreamResponse:
    """A follower's copy, from the driver's recorded response: nothing goes upstream."""
    navigation = _is_navigation(request)
    spa_route = navigation and await request.app[SYNC].current_url(visit.session.id) == visit.real_url
    entry = await responses.match(visit.participant.id, key, request.app[CONFIG].follower_wait,
                                  navigation=navigation, spa_route=spa_route)
    if entry is None:
        log.info("fetch_once.unmatched session=%s participant=%s method=%s", visit.session.id,
                 visit.participant.id, request.method)
        return error_page(504, "Not loaded yet",
                          "The leader's browser has not loaded this yet, so there is nothing to show you. "
                          "It will appear when the leader's page asks for it; reloading may help.")
    trace.answered(entry.head)
    refusal = _unservable(entry)
    if refusal is not None:
        return refusal
    if navigation and commits(entry.head) and shown_as_text(entry.head.header("Content-Type")):
        return await _send_text_view(request, visit, ctx, responses, entry)
    # What the driver's copy was decides: a body it got rewritten is rewritten again (read as it
    # arrives when it has a type: a type-less one is sniffed on the whole body first).
    untyped = not (entry.head.header("Content-Type") or "").strip()
    decoded = None if entry.raw or not untyped else await responses.body(entry)
    sniffed = sniff(decoded) if decoded is not None and untyped else None
    script = None if entry.raw else script_kind(request.headers.get("Sec-Fetch-Dest")) or True
    plan = _plan(request, visit, ctx, entry.head, document=not entry.raw, sniffed=sniffed, script=script)
    if isinstance(plan, web.Response):
        return plan
    if plan.no_body:
        return await _send_empty(request, plan.response)
    if entry.raw:
        return await _stream_entry(request, plan.response, responses, entry, trace.body_out)
    if decoded is None and plan.rewriter is not None and plan.rewriter.stream is not None and entry.head.status < 400:
        return await _replay_streamed(request, visit, plan, responses, entry, trace)
    if decoded is None:
        decoded = await responses.body(entry)
    refusal = _unservable(entry)
    if refusal is not None:
        return refusal
    trace.body_out(decoded, decoded=True)
    return await _send_rewritten(request, visit, plan, entry.head, decoded)


class _Incomplete(Exception):
    """The driver's copy ended without completing (broke off, too large, evicted, stalled)."""


async def _replay_streamed(request: web.Request, visit: Visit, plan: _Plan, responses: ResponseStore, entry: Entry,
                           trace: Trace) -> web.StreamResponse:
    """A follower's copy of a body whose rewriter streams, rewritten as the driver's arrives."""
    assert plan.rewriter is not None

    async def pieces() -> AsyncIterator[bytes]:
        async for piece in responses.stream(entry):
            yield piece
        if not entry.complete or not entry.servable:
            raise _Incomplete

    async def tee(piece: bytes) -> None:
        trace.body_out(piece, decoded=True)

    try:
        return await send_streamed(
            request, visit, plan.response, plan.rewriter, await _page_context(request, visit, plan),
            charset_of(entry.head.header("Content-Type")), request.app[CONFIG].max_rewrite_body, pieces(), tee)
    except Broken:
        return plan.response
    except _Incomplete:
        return _unservable(entry) or error_page(_BROKEN.status, _BROKEN.title, _BROKEN.message)
    except BufferLimit as exc:
        return error_page(502, "Page too large", f"The site's response could not be processed safely: {exc}")


async def _send_text_view(request: web.Request, visit: Visit, ctx: RequestContext, responses: ResponseStore,
                          entry: Entry) -> web.StreamResponse:
    """A follower's copy of a page the browser shows as text (JSON, plain text): the page the
    browser would build for it, with the runtime (``rewriter.textview``), so the follower still
    hears where the leader goes next."""
    body = await responses.body(entry)
    refusal = _unservable(entry)
    if refusal is not None:
        return refusal
    if entry.raw:
        try:
            body = decode_all(body, parse_encodings(entry.head.header("Content-Encoding")),
                              DecodeLimits(limit=request.app[CONFIG].max_rewrite_body))
        except (BodyTooLarge, DecodeError) as exc:
            return error_page(502, "Page too large", f"The site's response could not be processed safely: {exc}")
    content_type = entry.head.header("Content-Type")
    headers = tuple((k, v) for k, v in entry.head.headers if k.lower() != "content-type")
    head = replace(entry.head, headers=(*headers, ("Content-Type", "text/html; charset=utf-8")))
    plan = _plan(request, visit, ctx, head, document=True)
    if isinstance(plan, web.Response):
        return plan
    return await _send_rewritten(request, visit, plan, head, text_view(body, charset_of(content_type)))


# What a rewritten body is sent as, for the bodies the runtime is injected into.
_RUNTIME_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _carries_runtime(plan: _Plan) -> bool:
    rewriter = plan.rewriter
    return rewriter is not None and not plan.no_body and rewriter.content_type.split(";")[0] in _RUNTIME_TYPES


def _unservable(entry: Entry) -> web.Response | None:
    if entry.failure is not None:
        return error_page(entry.failure.status, entry.failure.title, entry.failure.message)
    if entry.too_large:
        return error_page(502, "Too large to share",
                          "This response is too large to share: only the participant in control receives it.")
    if entry.evicted:
        return error_page(502, "No longer available",
                          "The leader's copy of this response is no longer held. Ask the leader to reload the page.")
    return None


def _failure_of(page: web.Response) -> Failure:
    """What followers get when the driver got ``page`` instead of the site's answer."""
    return Failure(page.status, "The leader's page could not load this",
                   "The leader's browser got an error instead of the site's answer, so there is nothing "
                   "to show here either.")


_BROKEN = Failure(502, "Transfer broken", "The leader's copy of this response broke off before it was complete.")


def _is_navigation(request: web.Request) -> bool:
    """A top-level page load (not a frame, not a subresource)."""
    return (request.headers.get("Sec-Fetch-Mode") == "navigate"
            and request.headers.get("Sec-Fetch-Dest") == "document")


def _loads_as_document(request: web.Request) -> bool:
    """The browser renders the answer as a document (a request without Fetch Metadata counts)."""
    dest = request.headers.get("Sec-Fetch-Dest")
    return dest is None or dest in _RENDERED_DESTS


async def _peek(upstream: UpstreamResponse, size: int) -> bytes:
    """At least ``size`` raw bytes of the body (fewer only if it is shorter); the rest stays unread."""
    chunks: list[bytes] = []
    got = 0
    async for chunk in upstream.iter_raw(STREAM_CHUNK):
        chunks.append(chunk)
        got += len(chunk)
        if got >= size:
            break
    return b"".join(chunks)


def _is_document(request: web.Request, head: Head) -> bool:
    dest = request.headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest in _DOCUMENT_DESTS
    return (head.header("Content-Type") or "").lower().startswith("text/html")


async def _send_empty(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    await response.prepare(request)
    await response.write_eof()
    return response


async def _send_rewritten(request: web.Request, visit: Visit, plan: _Plan, head: Head,
                          decoded: bytes) -> web.StreamResponse:
    assert plan.rewriter is not None
    page = await _page_context(request, visit, plan)
    charset = charset_of(head.header("Content-Type"))
    if head.status >= 400 and not decoded.strip():
        # An empty error body: Chromium shows its own error page for it, as it would directly; an
        # injected runtime would make it a blank page (nothing in it can leave the proxy space).
        body = decoded
    elif plan.rewriter.scripts_only and len(decoded) > _SCRIPT_IN_THREAD:
        # tree-sitter parses without the GIL: a large bundle's first rewrite does not stall the loop
        body = await asyncio.to_thread(plan.rewriter.rewrite, decoded, page, charset)
    else:
        body = plan.rewriter.rewrite(decoded, page, charset)
    await persist_aliases(request, visit)
    response = plan.response
    response.headers["Content-Type"] = plan.rewriter.content_type
    response.content_length = len(body)
    if len(body) > 1024 and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression()
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    return response


async def _page_context(request: web.Request, visit: Visit, plan: _Plan) -> PageContext:
    """What this participant's copy is rewritten for (its runtime tag names the participant)."""
    assert plan.rewriter is not None
    inject = worker_prelude(request.app[CONFIG], visit) if plan.rewriter.worker else await _runtime_tag(request, visit)
    return PageContext(url=visit.real_url, space=visit.space, inject=inject,
                       js=request.app[SCRIPTS].rewrite_text, js_body=request.app[SCRIPTS].rewrite_body_text)


_SCRIPT_IN_THREAD = 64 * 1024  # scripts larger than this are rewritten off the event loop
_SCRIPT_MAX_WIRE = 4 * 1024 * 1024  # scripts larger than this on the wire are not rewritten


def _too_big_to_rewrite(head: Head) -> bool:
    length = head.header("Content-Length")
    return length is not None and length.isdigit() and int(length) > _SCRIPT_MAX_WIRE


_RESET_ON_REWRITE = frozenset({"content-length", "content-encoding", "content-type", "content-md5",
                               "digest", "etag", "accept-ranges", "content-range"})


async def stream_through(request: web.Request, response: web.StreamResponse, upstream: UpstreamResponse,
                         responses: ResponseStore, entry: Entry, prefix: bytes = b"",
                         audit: Callable[[bytes], None] = _ignore) -> web.StreamResponse:
    """The driver's streamed body, teed into the store (and ``audit``) as it passes (``prefix``:
    bytes already read)."""
    try:
        await response.prepare(request)
        if prefix:
            await responses.append(entry, prefix)
            audit(prefix)
            await response.write(prefix)
        async for chunk in upstream.iter_raw(STREAM_CHUNK, until_deadline=False):
            await responses.append(entry, chunk)
            audit(chunk)
            await response.write(chunk)
    except Exception as exc:
        if refusal_for(exc) is None:
            raise
        # Headers are gone already: cut the connection so the browser sees a failed transfer,
        # not a silently truncated file.
        if request.transport is not None:
            request.transport.close()
        return response
    else:
        await responses.finish(entry)
    finally:
        if not entry.complete:
            await responses.fail(entry, _BROKEN)
    await response.write_eof()
    return response


async def _stream_entry(request: web.Request, response: web.StreamResponse, responses: ResponseStore,
                        entry: Entry, audit: Callable[[bytes], None]) -> web.StreamResponse:
    await response.prepare(request)
    async for chunk in responses.stream(entry):
        audit(chunk)
        await response.write(chunk)
    if not entry.complete or not entry.servable:
        # The driver's copy broke off or grew too large to share: fail the transfer visibly.
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


def _store_cookies(jar: CookieJar, url: str, values: list[str], now: float, context: SameSiteContext,
                   top_level: bool) -> None:
    for value in values:
        jar.set_from_header(url, value, now, context=context, top_level_navigation=top_level)


async def _runtime_tag(request: web.Request, visit: Visit) -> str:
    now = time.time()
    doc_cookie = await request.app[STORE].with_jar(
        visit.session.id, lambda jar: jar.document_cookie(visit.real_url, now))
    config = request.app[CONFIG]
    return request.app[RUNTIME].tag({
        "sid": visit.session.id, "view": visit.space.view, "domain": config.domain, "scheme": config.public_scheme,
        "port": config.browser_port, "url": visit.real_url,
        "aliases": {label: str(origin) for label, origin in visit.session.aliases.items()},
        "cookie": doc_cookie, "prefix": "/__cb/", "participant": visit.participant.id,
        "role": visit.participant.role,
        # The session's privacy options (static/runtime/s25-privacy.js).
        "mask": list(visit.session.options.mask_selectors), "hide": list(visit.session.options.hide_selectors),
        # The session's branding for this participant's pages (sessions.branding.chrome, s50-toolbar.js).
        "chrome": chrome(visit.session.options.branding, visit.participant.role),
        # A visitor's storage and form values, once per participant (proxy.seeding, s65-seed.js).
        "seed": await page_seed(request.app, visit),
    })
