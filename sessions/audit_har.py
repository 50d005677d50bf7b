"""An audit trail as a HAR 1.2 document, written as it is read.

``HarStream`` takes a session's decrypted records in chain order (``push``) and gives back the
document's text piece by piece: ``start``, one piece per pushed record, ``finish``. Joined, the
pieces are one JSON object, ``{"log": {...}}``, that devtools' HAR import and Playwright's
``route_from_har`` read:

- one entry per ``Exchange``: request (method, real URL, headers, query string, cookies,
  ``postData`` when the body was kept), response (status, headers, cookies, ``content`` with the
  body as base64 text when kept, ``redirectURL``), ``timings`` (``wait`` until the answer's
  head, ``receive`` the rest; ``time`` is their sum), and the trail's own facts as custom
  fields (HAR allows names starting with ``_``): ``_participant``, ``_path``
  (upstream|store|proxy), ``_seq`` and ``_hash`` (the record's link in the chain),
  ``_targetStatus``, ``_navigation``, ``_error``, ``_redacted``, ``_truncated`` (which kept
  bodies were cut at the configured size, when any);
- ``pages``: one per ``navigation`` event (the driver's top-level page changed); each entry
  after it, and the navigation's own exchange, carries its ``pageref``;
- ``_events``: every session event (created, joined, control, navigation, ended, ...) with its
  time, participant, detail and link; ``comment`` sums the session up.

Redaction holds: values the trail stored as ``REDACTED`` stay so (a redacted Cookie header
becomes one cookie whose value is ``REDACTED``, with a comment saying so); nothing is
reconstructed. Memory is bounded by one held exchange (its page is known only when the record
after it is read) plus the pages and events, never the entries.

Pure: records in, text out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sessions.audit_record import Event, Exchange, Headers, Record
from sessions.audit_redaction import REDACTED

HTTP_VERSION = "HTTP/1.1"  # what the proxy speaks upstream and to browsers (aiohttp)
UNKNOWN_MIME = "x-unknown"
_REDACTED_COOKIE = {"name": "", "value": REDACTED, "comment": "redacted before storage"}


def iso(ts: float) -> str:
    """HAR's date format: ISO 8601 with milliseconds, in UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class HarStream:
    def __init__(self, session_id: str, creator_version: str) -> None:
        self.session_id = session_id
        self.creator_version = creator_version
        self.entries = 0
        self.pages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._held: tuple[int, str, Exchange] | None = None
        self._first = True

    def start(self) -> str:
        creator = {"name": "cobrowse", "version": self.creator_version}
        return '{"log":{"version":"1.2","creator":' + _dump(creator) + ',"entries":['

    def push(self, seq: int, digest: str, record: Record) -> str:
        """The text of the exchange held before this record, if any (an exchange is held until its page is known)."""
        if isinstance(record, Exchange):
            out = self._flush()
            self._held = (seq, digest, record)
            return out
        held = self._held
        own_page = (record.name == "navigation" and held is not None and held[2].navigation
                    and held[2].url == record.get("url"))
        out = "" if own_page else self._flush()
        self._event(seq, digest, record)
        return out

    def finish(self) -> str:
        comment = (f"cobrowse audit trail of session {self.session_id}: {self.entries} exchanges, "
                   f"{len(self.events)} session events, {len(self.pages)} pages")
        return (self._flush() + "\n]," + '"pages":' + _dump(self.pages) + ',"_session":' + _dump(self.session_id)
                + ',"_events":' + _dump(self.events) + ',"comment":' + _dump(comment) + "}}\n")

    def _event(self, seq: int, digest: str, record: Event) -> None:
        self.events.append({"time": iso(record.time), "participant": record.participant, "name": record.name,
                            "detail": dict(record.detail), "_seq": seq, "_hash": digest})
        if record.name == "navigation":
            self.pages.append({"startedDateTime": iso(record.time), "id": f"page_{len(self.pages) + 1}",
                               "title": record.get("url"), "pageTimings": {"onContentLoad": -1, "onLoad": -1}})

    def _flush(self) -> str:
        if self._held is None:
            return ""
        seq, digest, exchange = self._held
        self._held = None
        entry = har_entry(exchange, seq, digest, self.pages[-1]["id"] if self.pages else None)
        self.entries += 1
        sep = "\n" if self._first else ",\n"
        self._first = False
        return sep + _dump(entry)


def har_entry(x: Exchange, seq: int, digest: str, pageref: str | None) -> dict[str, Any]:
    wait = max(0.0, x.wait_ms)
    receive = max(0.0, x.total_ms - wait)
    entry: dict[str, Any] = {
        "startedDateTime": iso(x.time),
        "time": wait + receive,
        "request": _request(x),
        "response": _response(x),
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": wait, "receive": receive,
                    "ssl": -1},
        "_participant": x.participant, "_path": x.path, "_seq": seq, "_hash": digest,
        "_targetStatus": x.target_status, "_navigation": x.navigation, "_error": x.error,
        "_redacted": list(x.redacted),
    }
    if pageref is not None:
        entry["pageref"] = pageref
    cut = [side for side, truncated in (("request", x.request_truncated), ("response", x.response_truncated))
           if truncated]
    if cut:
        entry["_truncated"] = cut  # the kept body is the first --audit-bodies bytes of a longer one
    return entry


def _request(x: Exchange) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": x.method, "url": x.url, "httpVersion": HTTP_VERSION,
        "cookies": _cookies(x.request_headers, "cookie", _request_cookies),
        "headers": _headers(x.request_headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(x.url).query, keep_blank_values=True)],
        "headersSize": -1, "bodySize": x.request_bytes,
    }
    if x.request_body:
        request["postData"] = {"mimeType": _header(x.request_headers, "content-type") or UNKNOWN_MIME, "params": [],
                               **_text(x.request_body, "_encoding")}
    return request


def _response(x: Exchange) -> dict[str, Any]:
    content: dict[str, Any] = {"size": len(x.response_body) if x.response_body else x.response_bytes,
                               "mimeType": x.content_type or UNKNOWN_MIME}
    if x.response_body:
        content.update(_text(x.response_body, "encoding", always_base64=True))
    return {
        "status": x.status, "statusText": _reason(x.status), "httpVersion": HTTP_VERSION,
        "cookies": _cookies(x.response_headers, "set-cookie", _set_cookie),
        "headers": _headers(x.response_headers), "content": content, "redirectURL": x.location,
        "headersSize": -1, "bodySize": x.response_bytes,
    }


def _text(body: bytes, encoding_key: str, *, always_base64: bool = False) -> dict[str, str]:
    """A body as HAR text: base64 for responses (bytes kept exactly) and for requests that are not UTF-8."""
    if not always_base64:
        try:
            return {"text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"text": base64.b64encode(body).decode("ascii"), encoding_key: "base64"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _header(headers: Headers, name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _cookies(headers: Headers, name: str, parse: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, value in headers:
        if key.lower() == name:
            out.extend([dict(_REDACTED_COOKIE)] if value == REDACTED else parse(value))
    return out


def _request_cookies(value: str) -> list[dict[str, Any]]:
    pairs = (part.strip().partition("=") for part in value.split(";"))
    return [{"name": k.strip(), "value": v.strip()} for k, _, v in pairs if k.strip()]


_SET_COOKIE_ATTRIBUTES = {"path": "path", "domain": "domain"}  # expires: not in HAR's date form, left out


def _set_cookie(value: str) -> list[dict[str, Any]]:
    first, *attributes = value.split(";")
    name, _, cookie_value = first.strip().partition("=")
    cookie: dict[str, Any] = {"name": name.strip(), "value": cookie_value.strip()}
    for attribute in attributes:
        key, _, attribute_value = attribute.strip().partition("=")
        lower = key.strip().lower()
        if lower in _SET_COOKIE_ATTRIBUTES:
            cookie[_SET_COOKIE_ATTRIBUTES[lower]] = attribute_value.strip()
        elif lower == "httponly":
            cookie["httpOnly"] = True
        elif lower == "secure":
            cookie["secure"] = True
    return [cookie]
