"""Body redaction before storage: what of a kept request or response body never enters the audit
trail in clear.

A body (already decoded from its Content-Encoding, possibly truncated at the configured size) is
redacted by its content type:

- ``application/x-www-form-urlencoded``: the value of every field whose name is secret;
- ``multipart/form-data``: the content of every part whose ``name`` is secret;
- JSON (``application/json``, ``+json``): the value under every secret key at any depth, and
  under every configured JSON path (``$.user.ssn``, ``$.cards[*].number``); a body that does not
  parse (truncated) has the values of its secret keys taken out textually;
- every body, whatever its type: configured regexes and cobrowse's own credentials.

A name is secret when it is in the built-in table (``SECRET_FIELDS``: password-like names,
compared with case, ``-``, ``_`` and spaces ignored), in the configured fields, or among the
names of the fields the session masks (the controller's runtime says which: ``privacy`` in the
sync protocol). Each redaction is named in the record's ``redacted`` (``field:password``,
``json:$.user.ssn``, ``regex:1``, ``credential``), never a value.

Pure: bytes in, bytes out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from sessions.credentials import WIRE_PATTERN

REDACTED = "REDACTED"

# Field names that always hold a secret, normalized (lower case, no '-', '_' or spaces).
SECRET_FIELDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "newpassword", "oldpassword", "currentpassword",
    "confirmpassword", "passwordconfirmation", "secret", "clientsecret", "token", "accesstoken", "refreshtoken",
    "idtoken", "authtoken", "csrftoken", "apikey", "otp", "totp", "mfacode", "pin", "cvv", "cvc", "cvv2", "cvc2",
    "csc", "securitycode", "cardnumber", "ccnumber", "creditcard", "creditcardnumber", "cardno", "pan", "ccexp",
    "ccexpiry", "ssn", "socialsecuritynumber", "taxid", "iban",
})
# Name fragments that make any field secret (``user_password``, ``x-auth-token``).
SECRET_FRAGMENTS = ("password", "passwd", "secret", "token")

_JSON_TYPES = ("application/json", "text/json")
_SEPARATORS = re.compile(r"[-_\s.]")
_JSON_TEXT_PAIR = re.compile(rb'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)')


def normalized(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


@dataclass(frozen=True, slots=True)
class BodyRules:
    """The server's configured body patterns, on top of the built-in ones."""

    fields: frozenset[str] = frozenset()
    json_paths: tuple[tuple[str, ...], ...] = ()
    regexes: tuple[re.Pattern[bytes], ...] = ()

    @classmethod
    def configured(cls, fields: Iterable[str] = (), json_paths: Iterable[str] = (),
                   regexes: Iterable[str] = ()) -> BodyRules:
        return cls(frozenset(normalized(f) for f in fields if f.strip()),
                   tuple(parse_json_path(p) for p in json_paths),
                   tuple(re.compile(r.encode("utf-8")) for r in regexes))

    def secret(self, name: str, masked: frozenset[str]) -> bool:
        key = normalized(name)
        return (key in SECRET_FIELDS or key in self.fields or key in masked
                or any(fragment in key for fragment in SECRET_FRAGMENTS))

    def redact(self, body: bytes, content_type: str, masked: Iterable[str], found: set[str]) -> bytes:
        """``body`` with its secrets replaced; what was taken out is added to ``found``."""
        if not body:
            return body
        names = frozenset(normalized(m) for m in masked)
        mime = content_type.split(";")[0].strip().lower()
        if mime == "application/x-www-form-urlencoded":
            body = self._form(body, names, found)
        elif mime == "multipart/form-data":
            body = self._multipart(body, _boundary(content_type), names, found)
        elif mime in _JSON_TYPES or mime.endswith("+json"):
            body = self._json(body, names, found)
        for index, pattern in enumerate(self.regexes, 1):
            body, count = pattern.subn(REDACTED.encode(), body)
            if count:
                found.add(f"regex:{index}")
        if b"v1." not in body:
            return body
        text, count = WIRE_PATTERN.subn(REDACTED, body.decode("utf-8", "surrogateescape"))
        if count:
            found.add("credential")
        return text.encode("utf-8", "surrogateescape")

    def _form(self, body: bytes, masked: frozenset[str], found: set[str]) -> bytes:
        parts = []
        for part in body.split(b"&"):
            name, equals, _ = part.partition(b"=")
            field = unquote_plus(name.decode("latin-1"))
            if equals and self.secret(field, masked):
                found.add(f"field:{normalized(field)}")
                part = name + b"=" + REDACTED.encode()
            parts.append(part)
        return b"&".join(parts)

    def _multipart(self, body: bytes, boundary: bytes, masked: frozenset[str], found: set[str]) -> bytes:
        if not boundary:
            return body
        delimiter = b"--" + boundary
        parts = body.split(delimiter)
        for index, part in enumerate(parts):
            head, blank, content = part.partition(b"\r\n\r\n")
            match = re.search(rb'\bname="([^"]*)"', head)
            if not blank or match is None:
                continue
            field = match.group(1).decode("utf-8", "replace")
            if self.secret(field, masked):
                found.add(f"field:{normalized(field)}")
                ending = b"\r\n" if content.endswith(b"\r\n") else b""
                parts[index] = head + blank + REDACTED.encode() + ending
        return delimiter.join(parts)

    def _json(self, body: bytes, masked: frozenset[str], found: set[str]) -> bytes:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._json_text(body, masked, found)
        data = self._walk(data, (), masked, found)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _walk(self, value: Any, path: tuple[str, ...], masked: frozenset[str], found: set[str]) -> Any:
        if any(_matches(rule, path) for rule in self.json_paths):
            found.add("json:" + _path_text(path))
            return REDACTED
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if self.secret(str(key), masked):
                    found.add(f"field:{normalized(str(key))}")
                    out[key] = REDACTED
                else:
                    out[key] = self._walk(item, (*path, str(key)), masked, found)
            return out
        if isinstance(value, list):
            return [self._walk(item, (*path, "*"), masked, found) for item in value]
        return value

    def _json_text(self, body: bytes, masked: frozenset[str], found: set[str]) -> bytes:
        """A JSON body that does not parse (truncated): the values of its secret keys, textually."""

        def replace(match: re.Match[bytes]) -> bytes:
            key = match.group(1).decode("utf-8", "replace")
            if not self.secret(key, masked):
                return match.group(0)
            found.add(f"field:{normalized(key)}")
            return b'"' + match.group(1) + b'"' + match.group(2) + b'"' + REDACTED.encode() + b'"'

        return _JSON_TEXT_PAIR.sub(replace, body)


def parse_json_path(text: str) -> tuple[str, ...]:
    """``$.user.ssn`` -> ("user", "ssn"); ``$.cards[*].number`` -> ("cards", "*", "number")."""
    text = text.strip()
    if not text.startswith("$"):
        raise ValueError(f"JSON path {text!r} must start with $ (e.g. $.user.ssn)")
    steps = re.findall(r"\.([^.\[\]]+)|\[(\*|\d+)\]", text[1:])
    if not steps and text != "$":
        raise ValueError(f"JSON path {text!r}: expected steps like .name or [*]")
    return tuple(name or ("*" if index == "*" else index) for name, index in steps)


def _matches(rule: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(rule) == len(path) and all(r == p or r == "*" or (p == "*" and r.isdigit())
                                          for r, p in zip(rule, path, strict=True))


def _path_text(path: tuple[str, ...]) -> str:
    return "$" + "".join("[*]" if step == "*" else "." + step for step in path)


def _boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    return match.group(1).encode("latin-1") if match else b""
