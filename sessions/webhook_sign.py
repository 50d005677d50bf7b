"""Webhook signatures: how a delivery proves it came from this server, and how a receiver checks.

A delivery carries ``Cobrowse-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
``HMAC-SHA256(secret, f"{t}.{body}")``: the webhook's secret (the string shown once when the
webhook was created, as UTF-8 bytes) keys an HMAC over the timestamp, a dot and the request body's
exact bytes. A receiver recomputes it over the body it received, compares in constant time, and
refuses a timestamp further than ``TOLERANCE`` seconds from its clock (a replayed delivery is old).
docs/webhooks.md shows the check in a few lines of Python.

Invariants: ``verify(secret, sign(secret, t, body), body, now=t)`` holds; a change to the secret,
the timestamp, the body or the signature fails it. The header may carry several ``v1`` values
(one per secret while a secret is being replaced); one that matches is enough. Pure: no I/O,
no clock (the time is an argument).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

HEADER = "Cobrowse-Signature"
SCHEME = "v1"
TOLERANCE = 300  # seconds either side of the receiver's clock
SECRET_PREFIX = "whsec_"
MAX_HEADER = 4096


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe, with a prefix that says what it is."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed by ``secret``."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Cobrowse-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


@dataclass(frozen=True, slots=True)
class Signed:
    """A parsed header: its timestamp and every ``v1`` signature it carries."""

    timestamp: int
    signatures: tuple[str, ...]


class SignatureError(ValueError):
    """Why a delivery is not trusted (a sentence for the receiver's log)."""


def parse(header: str) -> Signed:
    if len(header) > MAX_HEADER:
        raise SignatureError("signature header too long")
    timestamp: int | None = None
    found: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed signature header part {part.strip()[:20]!r}")
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError("the timestamp t= is not a number of seconds")
            timestamp = int(value)
        elif key == SCHEME:
            found.append(value)
    if timestamp is None:
        raise SignatureError("no timestamp t= in the signature header")
    if not found:
        raise SignatureError(f"no {SCHEME}= signature in the signature header")
    return Signed(timestamp, tuple(found))


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = TOLERANCE) -> Signed:
    """The parsed header when ``body`` was signed with ``secret`` within ``tolerance`` seconds
    of ``now``; else ``SignatureError`` saying why."""
    signed = parse(header)
    if abs(now - signed.timestamp) > tolerance:
        raise SignatureError(f"the timestamp is more than {tolerance:g} s from now (a replay, or a wrong clock)")
    expected = signature(secret, signed.timestamp, body).encode("ascii")
    if not any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signed.signatures):
        raise SignatureError("no signature matches the body and the secret")
    return signed
