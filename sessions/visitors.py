"""Visitors of an integrator's site and the watch links that let an agent join them.

The snippet (``static/snippet.js``) registers each page load of a site that carries it as a
*visitor*, or resumes the visitor its browser already is (it keeps the visitor's token in the
site's own storage). A visitor has a short id a person can read out over the phone
(``SHORT_ID_LENGTH`` characters of ``ALPHABET``: no 0/O, 1/I/L, U/V look-alikes).

An agent gets a *watch link* for a visitor (``issue_link``, from the API or from the visitor's
page): single use and short lived (``LINK_LIFETIME``). Opening it (``open_link``) makes a
*watch*: the agent's browser waits, holding the watch's secret in a cookie, while the visitor is
asked for consent; when the visitor accepts, the proxy starts the session and ``attach`` names
it on the visitor and on every watch waiting for them, whose browsers then enter as the leader.
A visitor already in a live session is joined at once.

Invariants:
- secrets (visitor tokens, link tokens, watch secrets) are kept only as digests;
- short ids are unique among the visitors held; a visitor is forgotten ``limits.visitor_idle``
  seconds after it was last seen, a watch or a link ``limits.keep_expired`` seconds after it
  expired (so an expired link still finds its ``retry_url``);
- a link opens once; after its ``expires_at`` it opens never.
Pure: no I/O; the caller passes ``now``. Visitors and watches are values kept as text
(``visitor_text``/``watch_text``): ``proxy.visitor_book`` keeps them in the shared state, so
every server process sees every visitor and watch.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from sessions.branding import Branding
from sessions.ids import digest, new_secret
from sessions.seed import SeedCookie

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTWXYZ"
SHORT_ID_LENGTH: Final = 6
LINK_LIFETIME: Final = 600.0
MAX_HANDOFF_COOKIES: Final = 180


@dataclass(frozen=True, slots=True)
class VisitorLimits:
    visitor_idle: float = 4 * 3600.0
    keep_expired: float = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Agent:
    id: str = ""
    name: str = "Agent"


@dataclass(slots=True)
class Visitor:
    short_id: str
    site_key_id: str
    origin: str  # the site's origin that registered it (one of the site key's origins)
    token_digest: str
    url: str  # the page it was last seen on
    created_at: float
    seen_at: float
    ask_consent: bool = True
    session_id: str = ""  # the session it moved into ("" before it accepts)
    asked_by: list[str] = field(default_factory=list)  # watch ids waiting for its answer
    declined: bool = False
    handoff: tuple[SeedCookie, ...] = ()  # HttpOnly cookies the site's server handed over


@dataclass(slots=True)
class Watch:
    """A watch link (``opened`` False) or the agent's browser that opened it."""

    id: str  # digest of the link's token, then of the watch's secret
    short_id: str
    agent: Agent
    branding: Branding
    expires_at: float
    opened: bool = False
    session_id: str = ""
    api_key_id: str = ""  # the API key that asked for the link ("" from the visitor's own page)


class LinkRefused(Exception):
    """A watch link that does not open: ``reason`` is ``unknown``, ``used`` or ``expired``."""

    def __init__(self, reason: str, branding: Branding | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.branding = branding or Branding()


def new_short_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(SHORT_ID_LENGTH))


def normal_short_id(typed: str) -> str:
    """A short id as a person may type or say it: case, spaces and dashes do not matter."""
    return "".join(c for c in typed.upper() if c not in " -")


def _cookie(raw: dict[str, Any]) -> SeedCookie:
    return SeedCookie(str(raw["name"]), str(raw["value"]), str(raw.get("domain", "")), str(raw.get("path", "/")),
                      bool(raw.get("secure")), bool(raw.get("http_only")),
                      None if raw.get("expires") is None else float(raw["expires"]), str(raw.get("same_site", "")))


def visitor_text(visitor: Visitor) -> str:
    """A visitor as the shared state keeps it (``visitor_from``'s input)."""
    return json.dumps({**{k: getattr(visitor, k) for k in _VISITOR_FIELDS},
                       "handoff": [asdict(c) for c in visitor.handoff]}, separators=(",", ":"))


def visitor_from(held: str | None) -> Visitor | None:
    """What ``visitor_text`` wrote (None for None)."""
    if held is None:
        return None
    raw = json.loads(held)
    return Visitor(**{k: raw[k] for k in _VISITOR_FIELDS},
                   handoff=tuple(_cookie(c) for c in raw.get("handoff", ())))


def watch_text(watch: Watch) -> str:
    """A watch link or watch as the shared state keeps it (``watch_from``'s input)."""
    return json.dumps({**{k: getattr(watch, k) for k in _WATCH_FIELDS}, "agent": [watch.agent.id, watch.agent.name],
                       "branding": watch.branding.to_json()}, separators=(",", ":"))


def watch_from(held: str | None) -> Watch | None:
    """What ``watch_text`` wrote (None for None)."""
    if held is None:
        return None
    raw = json.loads(held)
    return Watch(**{k: raw[k] for k in _WATCH_FIELDS}, agent=Agent(*raw["agent"]),
                 branding=Branding.from_json(raw["branding"]))


_VISITOR_FIELDS = ("short_id", "site_key_id", "origin", "token_digest", "url", "created_at", "seen_at",
                   "ask_consent", "session_id", "asked_by", "declined")
_WATCH_FIELDS = ("id", "short_id", "expires_at", "opened", "session_id", "api_key_id")


def new_link(visitor: Visitor, agent: Agent, branding: Branding, now: float,
             api_key_id: str = "") -> tuple[str, Watch]:
    """A single-use watch link's token for ``visitor``, and the link as kept."""
    token = new_secret()
    return token, Watch(digest(token), visitor.short_id, agent, branding, now + LINK_LIFETIME, api_key_id=api_key_id)


def refusal(link: Watch | None, now: float) -> LinkRefused | None:
    """Why a watch link does not open now (None: it opens)."""
    if link is None:
        return LinkRefused("unknown", None)
    if link.opened:
        return LinkRefused("used", link.branding)
    if link.expires_at <= now:
        return LinkRefused("expired", link.branding)
    return None


def watch_of(link: Watch, visitor: Visitor, now: float) -> tuple[Watch, str]:
    """The watch an opened link gives the agent's browser, and its secret."""
    secret = new_secret()
    return Watch(digest(secret), link.short_id, link.agent, link.branding, now + LINK_LIFETIME,
                 opened=True, session_id=visitor.session_id, api_key_id=link.api_key_id), secret


def holds(watch: Watch | None, now: float) -> bool:
    """Whether a browser holding ``watch`` still has a watch (opened, and live or in a session)."""
    return watch is not None and watch.opened and (watch.expires_at > now or bool(watch.session_id))


def waiting(watch: Watch | None, now: float) -> bool:
    """Whether ``watch`` still waits for the visitor's answer."""
    return watch is not None and watch.expires_at > now and not watch.session_id
