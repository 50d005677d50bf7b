"""A session's lifecycle: how long it lives, when it idles out, why it ended, when it is forgotten.

- A session lives ``Lifecycle.lifetime`` seconds, or its ``options.expires_in`` (already bounded by
  ``OptionLimits.max_expires_in`` when parsed);
- it idles out after ``idle_timeout`` seconds with no proxied request and no sync message (its
  ``options.idle_timeout``, else the server's; ``0``: never);
- it ends for one of ``END_REASONS``; a session whose ``expires_at`` passed without anyone ending
  it (its timer lived in a process that stopped) is described as ended, reason ``expired``;
- its metadata is forgotten ``retention`` seconds after it ended (``ended_before`` the cutoff,
  ``proxy.purge``).

Invariants: ``status`` is ``live`` exactly when ``Session.is_live``; an ended session always has a
reason. Pure: no I/O, the time is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from sessions.model import Session
from sessions.options import SessionOptions

# Why a session ended -> what the reason means (documented in the API).
END_REASONS: Final[dict[str, str]] = {
    "api": "ended through the REST API (DELETE /api/v1/sessions/{id})",
    "leader": "the agent ended it from the session",
    "expired": "its lifetime ran out (expires_at)",
    "idle": "no proxied request or sync message for idle_timeout seconds",
}
LIVE: Final = "live"
ENDED: Final = "ended"
STATUSES: Final = (LIVE, ENDED)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The server's lifecycle settings (from ``Config``), all in seconds."""

    lifetime: float = 2 * 3600.0
    idle_timeout: float = 30 * 60.0
    retention: float = 30 * 86400.0

    def lifetime_of(self, options: SessionOptions) -> float:
        return float(options.expires_in) if options.expires_in is not None else self.lifetime

    def idle_timeout_of(self, options: SessionOptions) -> float:
        """Seconds of quiet that end the session; 0: it never idles out."""
        return float(options.idle_timeout) if options.idle_timeout is not None else self.idle_timeout

    def resolved(self, options: SessionOptions, max_followers: int) -> SessionOptions:
        """``options`` with the server's defaults written in where they were left unset, so a
        session keeps the lifetime, idle timeout and visitor limit it was made with and its
        description says what they are."""
        return replace(options, expires_in=_plain(self.lifetime_of(options)),
                       idle_timeout=_plain(self.idle_timeout_of(options)),
                       max_followers=max_followers if options.max_followers is None else options.max_followers)


def _plain(seconds: float) -> float:
    """Whole seconds as an int (so JSON says 7200, not 7200.0); a fraction kept as it is."""
    return int(seconds) if seconds == int(seconds) else seconds


def status(session: Session, now: float) -> str:
    return LIVE if session.is_live(now) else ENDED


def end_reason(session: Session, now: float) -> str | None:
    """Why the session ended (None while live)."""
    if session.is_live(now):
        return None
    return session.ended_reason or "expired"


def ended_at(session: Session) -> float:
    """When the session ended: the end it was given, else its expiry once past (never None once
    ended: a session nobody ended still stopped at ``expires_at``)."""
    return session.ended_at if session.ended_at is not None else session.expires_at


def ended_before(session: Session, cutoff: float, now: float) -> bool:
    """Whether an ended session's end lies before ``cutoff`` (a live one never does)."""
    if session.is_live(now):
        return False
    return ended_at(session) < cutoff
