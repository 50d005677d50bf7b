"""The upstream client: the proxy's only way out to target sites, behind the SSRF guard.

One ``UpstreamClient`` per application (started and closed by its owner, e.g. in a
``cleanup_ctx``) holds one ``aiohttp.ClientSession`` whose connector resolves names through
``GuardedResolver`` (``proxy.resolver``).

Invariants:

- Target policy (``sessions.policy``: bad ports, the server's and the session's domain lists)
  is a required argument of ``open`` and ``ws_connect`` and is judged in ``vet_url`` before any
  lookup or connection: every upstream path (HTTP, WebSocket, CORS preflight) passes here, so
  none can go around it. Refusals are ``PolicyRefused`` naming the rule.
- Every address is vetted before it is dialled, and the connector dials exactly the vetted
  address: the resolver returns numeric results only, so there is no second lookup for a
  rebinding DNS server to answer differently. IP-literal hosts (which aiohttp would dial without
  asking the resolver) are vetted up front in ``vet_url``, read in every spelling a browser
  accepts. ``resolve_overrides`` stand in for DNS and are vetted like any answer; so are the
  answers of ``UpstreamSettings.lookup``, the declared seam where tests stand in for DNS
  (a rebinding resolver, say).
- If any address a name resolves to is refused, the request is refused (``BlockedTarget``);
  a name pointing both inside and outside is treated as hostile, not filtered.
- Redirects are never followed (the browser follows them and each hop comes back through the
  guard); WebSocket handshakes answered with a redirect fail. No cookies are kept (the session
  jar is the only cookie store); bodies are not decompressed by aiohttp; no environment proxy.
- Time: ``total_deadline`` bounds an exchange from the request to the last byte read through
  ``read_decoded`` / ``iter_raw`` (unless the caller opts out for long streams); each socket
  read is bounded by ``read_timeout``; connecting by ``connect_timeout``.
- TLS certificates of https/wss targets are verified against the system's trust store; a
  certificate that does not verify is ``UpstreamUnavailable`` saying so, never trusted.
- Failures surface as the typed errors of ``proxy.upstream_errors`` (re-exported here), never
  as aiohttp exceptions.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sys
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace, TracebackType

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from proxy.config import config_default
from proxy.decoding import (
    BodyTooLarge,
    BoundedDecoder,
    DecodeError,
    DecodeLimits,
    parse_encodings,
    supported,
)
from proxy.netguard import AddressPolicy, InvalidHost, IPNetwork, parse_host
from proxy.resolver import GuardedResolver, Lookup, blocked_message
from proxy.upstream_errors import (
    BadUpstreamResponse,
    BlockedTarget,
    PolicyRefused,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from sessions.policy import TargetPolicy

log = logging.getLogger(__name__)
__all__ = [
    "BadUpstreamResponse",
    "BlockedTarget",
    "BodyTooLarge",
    "GuardedResolver",
    "Lookup",
    "PolicyRefused",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamSettings",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]

HTTP_SCHEMES = frozenset({"http", "https"})
WS_SCHEMES = frozenset({"ws", "wss"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Framing and connection management belong to each hop; the client computes its own.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)
# The WebSocket handshake is made by the client from ``protocols``; the browser's own values
# (key, version, extensions it negotiated with us) must not leak into it.
WS_HANDSHAKE_HEADERS = HOP_HEADERS | frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)
# Headers aiohttp would invent when absent: upstream sees only what the browser sent.
NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    allow_private: bool = False
    allowed_networks: Iterable[str | IPNetwork] = ()
    # "host:port" -> (ip, port): answers used instead of DNS (tests, demo); still vetted.
    resolve_overrides: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # The DNS seam: None means the system resolver (getaddrinfo).
    lookup: Lookup | None = None
    # Defaults declared once, in Config (the app passes its values: proxy.app.upstream_settings).
    connect_timeout: float = config_default("connect_timeout")
    read_timeout: float = config_default("read_timeout")
    total_deadline: float = config_default("total_deadline")
    max_rewrite_body: int = config_default("max_rewrite_body")
    max_decoded_ratio: float | None = 1000.0
    ratio_floor: int = 1024 * 1024
    max_response_headers: int = 1000
    max_header_size: int = 64 * 1024
    max_ws_message: int = config_default("max_ws_message")
    pool_limit: int = 100


class UpstreamResponse:
    """Status and headers of a target's answer; the body is read on demand, within bounds."""

    def __init__(self, resp: aiohttp.ClientResponse, settings: UpstreamSettings, deadline_at: float) -> None:
        self._resp = resp
        self._settings = settings
        self._deadline_at = deadline_at
        self._eof = False
        self.status = resp.status
        self.reason = resp.reason or ""
        self.url = str(resp.url)
        self.headers: list[tuple[str, str]] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    async def iter_raw(self, chunk_size: int = 64 * 1024, *, until_deadline: bool = True) -> AsyncIterator[bytes]:
        """The body as sent (still encoded). Each read waits at most ``read_timeout``, and all of
        them together end at the exchange's deadline unless ``until_deadline`` is False (long
        media streams, which then rely on the per-read timeout alone)."""
        loop = asyncio.get_running_loop()
        while not self._eof:
            wait = self._settings.read_timeout
            if until_deadline:
                wait = min(wait, self._deadline_at - loop.time())
                if wait <= 0:
                    raise UpstreamTimeout("the site's answer did not complete before the deadline")
            try:
                async with asyncio.timeout(wait):
                    chunk = await self._resp.content.read(chunk_size)
            except TimeoutError as exc:
                raise UpstreamTimeout(self._timeout_reason(loop.time(), until_deadline)) from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise UpstreamUnavailable(f"the connection broke while reading: {exc}") from exc
            if not chunk:
                self._eof = True
                return
            yield chunk

    def _timeout_reason(self, now: float, until_deadline: bool) -> str:
        if until_deadline and now >= self._deadline_at:
            return "the site's answer did not complete before the deadline"
        return f"the site sent nothing for {self._settings.read_timeout:g} s"

    async def read_decoded(self, limit: int | None = None) -> bytes:
        """The whole body with its Content-Encoding undone, refused past ``limit`` decoded bytes
        (default ``max_rewrite_body``) or at an absurd compression ratio (BodyTooLarge)."""
        decoder = self._decoder(self._settings.max_rewrite_body if limit is None else limit)
        try:
            async for chunk in self.iter_raw():
                decoder.feed(chunk)
            return decoder.finish()
        except DecodeError as exc:
            raise self._undecodable(exc) from exc

    async def iter_decoded(self) -> AsyncIterator[bytes]:
        """The body with its Content-Encoding undone, piece by piece as it arrives: nothing is
        kept, so any size passes; an absurd compression ratio is still refused (BodyTooLarge)."""
        decoder = self._decoder(None)
        try:
            async for chunk in self.iter_raw():
                decoder.feed(chunk)
                piece = decoder.take()
                if piece:
                    yield piece
            tail = decoder.finish()
        except DecodeError as exc:
            raise self._undecodable(exc) from exc
        if tail:
            yield tail

    def _decoder(self, limit: int | None) -> BoundedDecoder:
        """A decoder for this body's encodings; ``limit``: on what it holds (None: unlimited)."""
        s = self._settings
        limits = DecodeLimits(
            limit=sys.maxsize if limit is None else limit,
            max_ratio=s.max_decoded_ratio,
            ratio_floor=s.ratio_floor,
        )
        encodings = parse_encodings(self.header("Content-Encoding"))
        if not supported(encodings):
            raise BadUpstreamResponse(f"unsupported content-encoding {self.header('Content-Encoding')!r}")
        declared = self._resp.content_length
        if not encodings and declared is not None and declared > limits.limit:
            raise BodyTooLarge(
                "declared body larger than the limit", limit=limits.limit, decoded=declared, encoded=0, peak=0
            )
        return BoundedDecoder(encodings, limits)

    def _undecodable(self, exc: DecodeError) -> BadUpstreamResponse:
        encodings = parse_encodings(self.header("Content-Encoding"))
        return BadUpstreamResponse(f"the site's body is not valid {', '.join(encodings)}: {exc}")

    def release(self) -> None:
        """Give the connection back (reused only if the body was read to its end)."""
        if self._eof:
            self._resp.release()
        else:
            self._resp.close()


class UpstreamClient:
    """The guarded client. ``start()`` before use and ``close()`` after (or ``async with``)."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.settings = settings
        self.policy = AddressPolicy.build(settings.allow_private, settings.allowed_networks)
        self._session: aiohttp.ClientSession | None = None
        self._fresh_session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = self._client_session(force_close=False)
        # For a resend: a connection of its own, never one from the pool (which may be as stale).
        self._fresh_session = self._client_session(force_close=True)

    def _client_session(self, *, force_close: bool) -> aiohttp.ClientSession:
        s = self.settings
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.policy, s.resolve_overrides, s.lookup), limit=s.pool_limit, ttl_dns_cache=10,
            force_close=force_close,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=NO_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout),
            max_headers=s.max_response_headers,
            max_field_size=s.max_header_size,
            max_line_size=s.max_header_size,
            middlewares=(_refuse_upgrade_redirects,),
            requote_redirect_url=False,
            trace_configs=[_reuse_trace()],
        )

    async def close(self) -> None:
        for session in (self._session, self._fresh_session):
            if session is not None:
                await session.close()
        self._session = self._fresh_session = None

    async def __aenter__(self) -> UpstreamClient:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def _fresh(self) -> aiohttp.ClientSession:
        if self._fresh_session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._fresh_session

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._session

    def vet_url(self, url: str, policy: TargetPolicy, schemes: frozenset[str] = HTTP_SCHEMES) -> URL:
        """The URL to request, or BlockedTarget (PolicyRefused for target policy). IP-literal
        hosts are judged here (aiohttp dials literals without asking the resolver) and rewritten
        to their canonical spelling, which is also the spelling target policy judges."""
        try:
            target = URL(url, encoded=True) if url.isascii() else URL(url)
        except ValueError as exc:
            raise BlockedTarget(f"not a valid URL: {exc}") from exc
        if target.scheme not in schemes or not target.raw_host:
            raise BlockedTarget(f"only {'/'.join(sorted(schemes))} URLs with a host can be fetched")
        try:
            literal = parse_host(target.raw_host)
        except InvalidHost as exc:
            raise BlockedTarget(str(exc)) from exc
        port = target.port if target.port is not None else 0
        refusal = policy.judge(target.raw_host.rstrip(".").lower() if literal is None else str(literal), port)
        if refusal is not None:
            raise PolicyRefused(refusal)
        if literal is None:
            return target
        verdict = self.policy.judge(literal)
        if not verdict.allowed:
            raise BlockedTarget(blocked_message(target.raw_host, (verdict,)), (verdict,))
        return target.with_host(str(literal))

    async def open(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | AsyncIterable[bytes] | None = None,
        deadline: float | None = None,
        *,
        policy: TargetPolicy,
    ) -> UpstreamResponse:
        """Send one request; return once the response headers are in (the body is not read).
        ``deadline`` (seconds, default ``total_deadline``) bounds the whole exchange; ``policy``
        is the session's target policy, judged before anything is dialled."""
        target = self.vet_url(url, policy)
        out = CIMultiDict(
            (k, v)
            for k, v in headers
            if k.lower() not in HOP_HEADERS and not (k.lower() == "content-length" and not _streamed(body))
        )
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + (self.settings.total_deadline if deadline is None else deadline)
        try:
            async with asyncio.timeout_at(deadline_at):
                resp = await self._send(method, target, out, body)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer from {target.host} before the deadline") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc
        return UpstreamResponse(resp, self.settings, deadline_at)

    async def _send(self, method: str, target: URL, headers: CIMultiDict[str],
                    body: bytes | AsyncIterable[bytes] | None) -> aiohttp.ClientResponse:
        """One request; sent again once, on a fresh connection, when it went out on a kept-alive
        connection that the site closed (or reset) before answering anything, whether the close
        met the request while it was being written or while its answer was awaited
        (``_closed_unanswered``). That is a connection the site had just timed out (a race every
        client meets; gunicorn closes idle ones after 2 s), and browsers resend then, whatever the
        method. A request on a new connection is never resent (the site may have acted on it),
        nor is a streamed body (it cannot be sent twice)."""
        attempt = _Attempt()
        try:
            return await self.session.request(method, target, headers=headers, data=body, allow_redirects=False,
                                              trace_request_ctx=attempt)
        except aiohttp.ClientError as exc:
            if not (attempt.reused and _closed_unanswered(exc)) or _streamed(body):
                raise
            log.info("upstream.resend host=%s reason=closed-before-answer", target.host)
            return await self._fresh.request(method, target, headers=headers, data=body, allow_redirects=False)

    async def ws_connect(
        self,
        url: str,
        headers: Iterable[tuple[str, str]],
        protocols: Iterable[str] = (),
        deadline: float | None = None,
        *,
        policy: TargetPolicy,
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket to the target through the same guard and ``policy``. The handshake
        must finish within ``deadline``; a redirect or any answer but 101 is BadUpstreamResponse."""
        target = self.vet_url(url, policy, WS_SCHEMES)
        out = CIMultiDict((k, v) for k, v in headers if k.lower() not in WS_HANDSHAKE_HEADERS)
        budget = self.settings.total_deadline if deadline is None else deadline
        try:
            async with asyncio.timeout(budget):
                return await self.session.ws_connect(
                    target,
                    headers=out,
                    protocols=tuple(protocols),
                    max_msg_size=self.settings.max_ws_message,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
                )
        except TimeoutError as exc:
            raise UpstreamTimeout(f"the WebSocket handshake with {target.host} timed out") from exc
        except aiohttp.WSServerHandshakeError as exc:
            raise BadUpstreamResponse(f"the site refused the WebSocket (status {exc.status})") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc


@dataclass(slots=True)
class _Attempt:
    """One request's trace context: whether it went out on a kept-alive (reused) connection."""

    reused: bool = False


async def _on_reuse(session: aiohttp.ClientSession, context: SimpleNamespace,
                    params: aiohttp.TraceConnectionReuseconnParams) -> None:
    attempt = context.trace_request_ctx
    if isinstance(attempt, _Attempt):
        attempt.reused = True


def _reuse_trace() -> aiohttp.TraceConfig:
    """Marks a request's ``_Attempt`` when the pool hands it a kept-alive connection."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_reuseconn.append(_on_reuse)
    return trace


# A connection the site closed or reset under the request: a close met while the request was
# written comes as an OSError (aiohttp's ClientOSError, "Can not write request body") with one
# of these numbers, or none and a ConnectionError as its cause.
_CLOSED_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


def _closed_unanswered(exc: aiohttp.ClientError) -> bool:
    """The site closed the connection before any answer came (``request`` returns once the
    answer's head is in, so any failure it raises came before one)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return True
    if not isinstance(exc, aiohttp.ClientOSError):
        return False
    return exc.errno in _CLOSED_ERRNOS or isinstance(exc.__cause__, ConnectionError)


def _streamed(body: object) -> bool:
    return body is not None and not isinstance(body, bytes | bytearray | memoryview)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (f"the TLS certificate of {exc.host} could not be verified ({exc.certificate_error}); "
                "the proxy does not connect to a site it cannot authenticate")
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"the TLS handshake with {exc.host} failed ({exc.os_error})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the site's name could not be resolved"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect to {exc.host}:{exc.port} ({exc.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the site closed the connection without answering"
    return str(exc) or type(exc).__name__


async def _refuse_upgrade_redirects(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp's ws_connect follows redirects and offers no switch; browsers fail the handshake.
    resp = await handler(req)
    if resp.status in REDIRECT_STATUSES and req.headers.get("Upgrade", "").lower() == "websocket":
        resp.close()
        raise BadUpstreamResponse(f"the site answered the WebSocket handshake with a {resp.status} redirect")
    return resp
