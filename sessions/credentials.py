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
from dataclasses import dataclass, field

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


# Tokens a Signer remembers as verified (the oldest forgotten first): enough for every
# participant of every live session of a busy process.
VERIFIED_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Signer:
    key: bytes
    # Tokens whose signature and form checked out, with what they carry. Every proxied request
    # presents its participant's token, and the MAC is the costly part of admitting it; what a
    # token says never changes, so it is checked once. Its expiry is judged at each use, and
    # whether the participant is still in the session is the caller's check, on the session
    # as it is now. Forged tokens are never kept.
    _verified: dict[str, Credential] = field(default_factory=dict, compare=False, repr=False)

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
        cred = self._verified.get(token)
        if cred is None:
            cred = self._check(token)
            if cred is None:
                return None
            if len(self._verified) >= VERIFIED_KEPT:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = cred
        return cred if cred.expires > now else None

    def _check(self, token: str) -> Credential | None:
        """What a token carries if its signature and form are good (its expiry aside)."""
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
        return cred if is_session_id(cred.session_id) else None
