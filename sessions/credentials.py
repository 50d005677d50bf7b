"""Signed participant credentials: what the HttpOnly participant cookie carries.

A credential names a session, a participant, a role and an expiry, and is signed with
HMAC-SHA256 (``cryptography``) under the server's secret key. Verification is constant
time and checks the signature before anything else is trusted. A valid signature is not
enough on its own: the proxy also checks that the participant is still in the session.

Wire form: ``v1.<session>.<participant>.<role>.<expires>.<signature b64url>``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

from sessions.ids import is_session_id

ROLES = frozenset({"leader", "follower"})
COOKIE_PREFIX = "cbp_"
# A signed credential anywhere in a text (the wire form below), for redaction.
WIRE_PATTERN = re.compile(r"v1\.[a-z2-7]+\.[A-Za-z0-9_-]+\.(?:leader|follower)\.\d+\.[A-Za-z0-9_-]{20,}")


@dataclass(frozen=True, slots=True)
class Credential:
    session_id: str
    participant_id: str
    role: str
    expires: int


def cookie_name(session_id: str) -> str:
    """One cookie per session, so one browser can take part in several sessions."""
    return COOKIE_PREFIX + session_id


@dataclass(frozen=True, slots=True)
class Signer:
    key: bytes

    def _mac(self, payload: bytes) -> hmac.HMAC:
        mac = hmac.HMAC(self.key, hashes.SHA256())
        mac.update(payload)
        return mac

    def sign(self, cred: Credential) -> str:
        payload = f"v1.{cred.session_id}.{cred.participant_id}.{cred.role}.{cred.expires}"
        sig = self._mac(payload.encode("ascii")).finalize()
        return payload + "." + base64.urlsafe_b64encode(sig).decode("ascii").rstrip("=")

    def verify(self, token: str, now: float) -> Credential | None:
        """The credential a token carries, or None if forged, malformed or expired."""
        if len(token) > 512 or not token.isascii():
            return None
        payload, _, sig_text = token.rpartition(".")
        try:
            sig = base64.urlsafe_b64decode(sig_text + "=" * (-len(sig_text) % 4))
            self._mac(payload.encode("ascii")).verify(sig)
        except (ValueError, InvalidSignature):
            return None
        parts = payload.split(".")
        if len(parts) != 5 or parts[0] != "v1" or parts[3] not in ROLES or not parts[4].isdigit():
            return None
        cred = Credential(parts[1], parts[2], parts[3], int(parts[4]))
        if not is_session_id(cred.session_id) or cred.expires <= now:
            return None
        return cred
