"""Redaction before storage: what never enters the audit trail in clear, decided by tables.

- Headers whose value is a credential (``SECRET_HEADERS`` plus the server's configured ones):
  the value becomes ``REDACTED``, the name stays (a reader still sees that a cookie was sent).
- URL query parameters that carry a credential (``SECRET_QUERY``: cobrowse's own link
  parameters, the ones single sign-on hands over, plus configured ones): the value becomes
  ``REDACTED``; in the exchange's URL, its redirect target and the headers that carry URLs
  (``URL_HEADERS``).
- cobrowse's own signed participant credential (``sessions.credentials.WIRE_PATTERN``) wherever
  it appears in any string of the record.

Each record's ``redacted`` lists what was taken out (``header:cookie``, ``query:ticket``,
``credential``), never a value. Bodies are kept only when configured and are not searched
here: configured body patterns and masked fields are a later step of issue 8.

Pure: records in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import unquote

from sessions.audit_record import Event, Headers, Record
from sessions.credentials import WIRE_PATTERN

REDACTED = "REDACTED"

SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
SECRET_QUERY = frozenset({"ticket", "invitation", "access_token", "id_token", "refresh_token", "code",
                          "client_secret", "password", "token"})
URL_HEADERS = frozenset({"referer", "location", "content-location", "origin", "refresh"})


@dataclass(frozen=True, slots=True)
class Redactor:
    headers: frozenset[str] = SECRET_HEADERS
    query: frozenset[str] = SECRET_QUERY

    @classmethod
    def configured(cls, headers: Iterable[str] = (), query: Iterable[str] = ()) -> Redactor:
        return cls(SECRET_HEADERS | {h.strip().lower() for h in headers},
                   SECRET_QUERY | {q.strip().lower() for q in query})

    def record(self, record: Record) -> Record:
        found: set[str] = set(record.redacted)
        if isinstance(record, Event):
            detail = tuple((k, self._url(v, found) if k == "url" else self._text(v, found))
                           for k, v in record.detail)
            return replace(record, detail=detail, redacted=tuple(sorted(found)))
        return replace(record, url=self._url(record.url, found), location=self._url(record.location, found),
                       request_headers=self._headers(record.request_headers, found),
                       response_headers=self._headers(record.response_headers, found),
                       error=self._text(record.error, found), redacted=tuple(sorted(found)))

    def _headers(self, headers: Headers, found: set[str]) -> Headers:
        out = []
        for name, value in headers:
            lower = name.lower()
            if lower in self.headers:
                found.add(f"header:{lower}")
                value = REDACTED
            elif lower in URL_HEADERS:
                value = self._url(value, found)
            else:
                value = self._text(value, found)
            out.append((name, value))
        return tuple(out)

    def _url(self, url: str, found: set[str]) -> str:
        url = self._text(url, found)
        base, hashmark, fragment = url.partition("#")
        path, question, query = base.partition("?")
        if not question:
            return url
        parts = []
        for part in query.split("&"):
            name, equals, _ = part.partition("=")
            key = unquote(name).lower()
            if equals and key in self.query:
                found.add(f"query:{key}")
                part = f"{name}={REDACTED}"
            parts.append(part)
        return path + "?" + "&".join(parts) + hashmark + fragment

    @staticmethod
    def _text(text: str, found: set[str]) -> str:
        if "v1." not in text:
            return text
        cleaned, count = WIRE_PATTERN.subn(REDACTED, text)
        if count:
            found.add("credential")
        return cleaned

