"""An audit trail as a mitmproxy flow file: one ``HTTPFlow`` per exchange, written by mitmproxy's
own ``FlowWriter``, so ``mitmproxy -r``/``mitmweb -r`` and ``mitmproxy.io.FlowReader`` open it.

Each flow is built from its record alone: the request (method, real URL, the headers as
recorded, the body when it was kept) and, when the participant got an answer (status > 0), the
response (that status, the target's headers, the body when kept); the timestamps are the
record's (request at its start, response head after ``wait_ms``, end after ``total_ms``). A
record's ``error`` (a refusal, a broken transfer) becomes the flow's ``error``. What the trail
knows beyond HTTP goes into ``flow.metadata["cobrowse"]``: ``session``, ``seq``/``hash`` (the
record's link), ``participant``, ``path`` (upstream|store|proxy), ``target_status``,
``navigation``, ``redacted``, and ``events``: the session events recorded since the previous
exchange (the last flow also gets ``events_after``: those after it). The events are summed up
in ``flow.comment`` too, which mitmweb shows. A trail with no exchange gives an empty file. The
ids of flows and connections come from the session and the record's number, so the same trail
always exports to the same bytes.

Bodies and header values are the trail's: redacted values stay ``REDACTED``. Memory is bounded
by one held flow (its trailing events are known only when the next exchange or the end comes).
"""

from __future__ import annotations

import io
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from mitmproxy import connection, flow, http
from mitmproxy.io import FlowWriter

from sessions.audit_chain import Link
from sessions.audit_record import Event, Exchange, Headers, Record

DEFAULT_PORTS = {"http": 80, "https": 443}
NO_ADDRESS = ("", 0)  # the trail does not keep participants' addresses
HTTP_11 = b"HTTP/1.1"  # what the proxy speaks upstream and to browsers (aiohttp)


class MitmStream:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.flows = 0
        self._held: http.HTTPFlow | None = None
        self._events: list[dict[str, Any]] = []

    def start(self) -> bytes:
        return b""

    def push(self, link: Link, record: Record) -> bytes:
        if isinstance(record, Event):
            self._events.append({"seq": link.seq, "hash": link.hash, "time": record.time,
                                 "participant": record.participant, "name": record.name,
                                 "detail": dict(record.detail)})
            return b""
        out = self._write_held()
        self._held = http_flow(self.session_id, link, record, self._take_events())
        return out

    def finish(self) -> bytes:
        if self._held is not None and self._events:
            events = self._take_events()
            self._held.metadata["cobrowse"]["events_after"] = events
            self._held.comment = "\n".join(filter(None, [self._held.comment, "after: " + _summary(events)]))
        return self._write_held()

    def _take_events(self) -> list[dict[str, Any]]:
        events, self._events = self._events, []
        return events

    def _write_held(self) -> bytes:
        if self._held is None:
            return b""
        buffer = io.BytesIO()
        FlowWriter(buffer).add(self._held)  # type: ignore[no-untyped-call]
        self._held = None
        self.flows += 1
        return buffer.getvalue()


def _as_kept(headers: Headers, body: bytes) -> Headers:
    """A kept body is stored decoded: its Content-Encoding no longer applies to it."""
    return tuple((k, v) for k, v in headers if k.lower() != "content-encoding") if body else headers


def http_flow(session_id: str, link: Link, x: Exchange, events: list[dict[str, Any]]) -> http.HTTPFlow:
    parts = urlsplit(x.url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    ids = {role: str(uuid.uuid5(uuid.NAMESPACE_URL, f"cobrowse-audit:{session_id}:{link.seq}:{role}"))
           for role in ("flow", "client", "server")}
    client = connection.Client(peername=NO_ADDRESS, sockname=NO_ADDRESS, timestamp_start=x.time, id=ids["client"])
    server = connection.Server(address=(parts.hostname or "", port), id=ids["server"])
    f = http.HTTPFlow(client, server)
    f.id = ids["flow"]
    f.timestamp_created = x.time
    target = parts.path or "/"
    f.request = http.Request(
        parts.hostname or "", port, x.method.encode(), parts.scheme.encode(), b"",
        (target + ("?" + parts.query if parts.query else "")).encode("utf-8", "surrogateescape"), HTTP_11,
        _headers(_as_kept(x.request_headers, x.request_body)), x.request_body, None, x.time, x.time)
    if x.status > 0:
        f.response = http.Response(
            HTTP_11, x.status, _reason(x.status), _headers(_as_kept(x.response_headers, x.response_body)),
            x.response_body, None,
            x.time + x.wait_ms / 1000, x.time + x.total_ms / 1000)
    if x.error:
        f.error = flow.Error(x.error, timestamp=x.time + x.total_ms / 1000)
    f.metadata["cobrowse"] = {
        "session": session_id, "seq": link.seq, "hash": link.hash, "participant": x.participant, "path": x.path,
        "target_status": x.target_status, "navigation": x.navigation, "redacted": list(x.redacted),
        "truncated": [side for side, cut in (("request", x.request_truncated), ("response", x.response_truncated))
                      if cut],
        "events": events,
    }
    f.comment = f"{x.path} for participant {x.participant or '-'}" + (
        "\nbefore: " + _summary(events) if events else "")
    return f


def _headers(headers: tuple[tuple[str, str], ...]) -> http.Headers:
    """The recorded headers as they were: the constructors, unlike ``make``, add or drop none."""
    return http.Headers([(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                         for k, v in headers])


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _summary(events: list[dict[str, Any]]) -> str:
    return "; ".join(
        " ".join([e["name"], *(f"{k}={v}" for k, v in e["detail"].items())]) for e in events)
