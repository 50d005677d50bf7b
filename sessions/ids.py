"""Identifiers and secrets: session ids (DNS-safe, no "-"), participant ids, tickets.

Session ids appear in host names (``<label>--<id>.<domain>``), so they use only
``[a-z2-7]`` and have exactly ``SESSION_ID_LENGTH`` characters. They are not secrets:
access rests on tickets and signed participant credentials.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from rewriter.origins import SESSION_ID_LENGTH, VIEW_LENGTH


def new_session_id() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return raw[:SESSION_ID_LENGTH]


def is_session_id(value: str) -> bool:
    return len(value) == SESSION_ID_LENGTH and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in value)


def new_view() -> str:
    """A participant's view tag, as its proxy hosts carry it (``[a-z2-7]``, not a secret)."""
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()[:VIEW_LENGTH]


def new_participant_id() -> str:
    return "p" + secrets.token_hex(6)


def new_secret() -> str:
    """An unguessable single-use or invitation token (URL-safe)."""
    return secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, so a store dump reveals no usable token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
