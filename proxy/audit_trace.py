"""One proxied exchange's audit record, filled in as ``proxy.exchange`` goes.

``Trace.begin`` is called when the exchange starts (who, which path, what was asked); the
exchange notes what went upstream (``sent``) and the answer's head (``answered``: the target's,
or the driver's recorded one a follower is served from); ``finish`` is called once the
participant's answer is complete (a streamed body: after its last byte, or when it broke off or
the browser went away) and emits the ``Exchange`` record, plus a ``navigation`` event when the
driver's top-level page changed. Emitting never blocks (``proxy.audit_writer``); header and URL
redaction happens in the writer, before anything is stored.

Bodies (``Config.audit_bodies`` > 0): the request's is noted when read (``body_in``), the
answer's is teed as it goes to the participant (``body_out``: raw chunks, decoded here with
bounded memory, or a body already decoded); both are cut at the configured size and redacted
(``sessions.audit_bodies``: configured patterns, password-like names and the names of the fields
the session masks) in ``finish``, so a body is never emitted in clear.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from aiohttp import web

from proxy.audit import policy_refused
from proxy.audit_tee import BodyTee, kept
from proxy.keys import AUDIT, CONFIG, METRICS, SYNC
from proxy.visit import Place, Visit
from sessions.audit_bodies import BodyRules
from sessions.audit_record import Exchange, Headers, event
from sessions.responses import Head, commits


@dataclass(slots=True)
class Trace:
    visit: Visit
    method: str
    path: str
    navigation: bool
    started: float
    clock: float
    request_headers: Headers = ()
    request_bytes: int = 0
    head: Head | None = None
    head_clock: float = 0.0
    error: str = ""
    keep: int = 0  # body bytes kept (0: none)
    request_body: bytes = b""
    request_truncated: bool = False
    tee: BodyTee | None = None
    refusal: BaseException | None = None

    @classmethod
    def begin(cls, request: web.Request, visit: Visit, *, navigation: bool) -> Trace:
        """An exchange starts (``navigation``: a top-level page load, as ``proxy.exchange`` judges
        it); it goes upstream unless ``from_store``/``answered_locally`` say otherwise."""
        config = request.app[CONFIG]
        return cls(visit, request.method, "upstream", navigation, time.time(), time.monotonic(),
                   request_headers=tuple(request.headers.items()), request_bytes=request.content_length or 0,
                   keep=config.audit_bodies if config.audit_enabled else 0)

    def body_in(self, body: bytes | None) -> None:
        """The request's body as the participant sent it (decoded when it says it is encoded)."""
        if self.keep and body:
            encoding = next((v for k, v in self.request_headers if k.lower() == "content-encoding"), None)
            self.request_body, self.request_truncated = kept(body, self.keep, encoding)

    def body_out(self, chunk: bytes, *, decoded: bool = False) -> None:
        """Bytes of the answer's body as they go to the participant (raw: in the head's encodings)."""
        if not self.keep:
            return
        if self.tee is None:
            encoding = None if decoded or self.head is None else self.head.header("Content-Encoding")
            self.tee = BodyTee(self.keep, encoding)
        self.tee.feed(chunk)

    def from_store(self) -> None:
        self.path = "store"

    def answered_locally(self, why: str) -> None:
        self.path = "proxy"
        self.error = why

    def sent(self, headers: list[tuple[str, str]], body: bytes | None) -> None:
        self.request_headers = tuple(headers)
        self.request_bytes = len(body or b"")

    def answered(self, head: Head) -> None:
        self.head = head
        self.head_clock = time.monotonic()

    def refused(self, exc: BaseException) -> None:
        self.error = exc.__class__.__name__
        self.refusal = exc

    def finish(self, request: web.Request, response: web.StreamResponse | None) -> None:
        now = time.monotonic()
        head = self.head
        status = response.status if response is not None else 0
        if response is None and not self.error:
            self.error = "aborted"  # the browser went away (or a bug) before the answer was complete
        record = Exchange(
            time=self.started, participant=self.visit.participant.id, path=self.path, method=self.method,
            url=self.visit.real_url, status=status, target_status=head.status if head else 0,
            request_bytes=self.request_bytes, response_bytes=_bytes_out(response),
            wait_ms=round(((self.head_clock or now) - self.clock) * 1000, 3),
            total_ms=round((now - self.clock) * 1000, 3),
            content_type=(head.header("Content-Type") or "") if head else "",
            location=(head.header("Location") or "") if head else "",
            request_headers=self.request_headers, response_headers=head.headers if head else (),
            navigation=self.navigation, error=self.error)
        if self.keep:
            record = self._with_bodies(request, record)
        request.app[METRICS].exchange(record)
        sink = request.app[AUDIT]
        sid = self.visit.session.id
        sink.emit(sid, record)
        if self.refusal is not None:
            policy_refused(request.app, sid, self.visit.participant.id, self.visit.real_url, self.refusal)
        if self.navigation and self.path == "upstream" and head is not None and commits(head):
            sink.emit(sid, event(self.started, self.visit.participant.id, "navigation", url=self.visit.real_url))

    def _with_bodies(self, request: web.Request, record: Exchange) -> Exchange:
        config = request.app[CONFIG]
        rules = BodyRules.configured(config.audit_redact_fields, config.audit_redact_json, config.audit_redact_regex)
        masked = request.app[SYNC].masked_names(self.visit.session.id)
        found = set(record.redacted)
        request_type = next((v for k, v in self.request_headers if k.lower() == "content-type"), "")
        request_body = rules.redact(self.request_body, request_type, masked, found)
        response_body = rules.redact(self.tee.value(), record.content_type, masked, found) if self.tee else b""
        return replace(record, request_body=request_body, response_body=response_body,
                       request_truncated=self.request_truncated,
                       response_truncated=self.tee.truncated if self.tee else False,
                       redacted=tuple(sorted(found)))


def _bytes_out(response: web.StreamResponse | None) -> int:
    """Body bytes the participant was sent (an answer not sent yet: its body's length)."""
    if response is None:
        return 0
    if response.prepared:
        return int(response.body_length)
    body = getattr(response, "body", None)
    return len(body) if isinstance(body, bytes | bytearray) else 0


@dataclass(slots=True)
class PreflightTrace:
    """A CORS preflight's record (``proxy.preflight``): no participant (browsers send no
    credential with it); ``store`` when the session's shared answer served it. Its response
    headers are the ones answered (the target's, rewritten), status and headers being all a
    preflight's answer carries."""

    session_id: str
    url: str
    started: float
    clock: float
    path: str = "proxy"  # refused by cobrowse until the preflight goes upstream or the store answers
    request_headers: Headers = ()
    error: str = ""

    @classmethod
    def begin(cls, request: web.Request, place: Place) -> PreflightTrace:
        return cls(place.session.id, place.real_url(request), time.time(), time.monotonic(),
                   request_headers=tuple(request.headers.items()))

    def finish(self, request: web.Request, response: web.StreamResponse) -> None:
        elapsed = round((time.monotonic() - self.clock) * 1000, 3)
        answered = self.path != "proxy" and not self.error  # by the target, now or earlier
        record = Exchange(
            time=self.started, participant="", path=self.path, method="OPTIONS", url=self.url,
            status=response.status, target_status=response.status if answered else 0, wait_ms=elapsed,
            total_ms=elapsed, request_headers=self.request_headers,
            response_headers=tuple(response.headers.items()), error=self.error)
        request.app[METRICS].exchange(record)
        request.app[AUDIT].emit(self.session_id, record)
