"""Searching captured bytes for secrets in every form they could leak in.

``encodings(secret)``: the secret raw, URL-encoded, and base64 at each of the three byte
alignments (the part of the encoding that does not depend on the bytes around it), so a secret
inside a larger base64 blob is found wherever it starts. ``leaks(blob, secrets)``: the names of
the secrets found in ``blob``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import quote


def encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    found = [raw, quote(secret, safe="").encode(), quote_plus_form(secret).encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)
        skip = (pad * 4 + 2) // 3 + 1  # characters touched by the padding bytes
        found.append(encoded[skip:-4] if len(encoded) > skip + 8 else encoded)
    return [f for f in dict.fromkeys(found) if len(f) >= 6]


def quote_plus_form(secret: str) -> str:
    """As an HTML form encodes it (spaces as '+')."""
    return quote(secret, safe="").replace("%20", "+")


def leaks(blob: bytes, secrets: Mapping[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if any(form in blob for form in encodings(value))]
