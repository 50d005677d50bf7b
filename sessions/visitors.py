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
- short ids are unique among the visitors held; the registry holds at most ``limits.visitors``
  visitors (the least recently seen go first) and ``limits.links`` links and watches, and
  forgets a visitor ``limits.visitor_idle`` seconds after it was last seen, a watch or a link
  ``limits.keep_expired`` seconds after it expired (so an expired link still finds its
  ``retry_url``);
- a link opens once; after its ``expires_at`` it opens never.
Pure: no I/O; the caller passes ``now``. One registry per server process (see ``docs/snippet.md``).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from sessions.branding import Branding
from sessions.ids import digest, new_secret
from sessions.seed import SeedCookie

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTWXYZ"
SHORT_ID_LENGTH: Final = 6
LINK_LIFETIME: Final = 600.0
MAX_HANDOFF_COOKIES: Final = 180


@dataclass(frozen=True, slots=True)
class VisitorLimits:
    visitors: int = 100_000
    links: int = 10_000
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


class VisitorRegistry:
    def __init__(self, limits: VisitorLimits | None = None) -> None:
        self.limits = limits or VisitorLimits()
        self._visitors: OrderedDict[str, Visitor] = OrderedDict()  # short id -> visitor, least recently seen first
        self._by_token: dict[str, str] = {}  # token digest -> short id
        self._watches: OrderedDict[str, Watch] = OrderedDict()  # link or watch digest -> watch, oldest first

    def __len__(self) -> int:
        return len(self._visitors)

    # -- visitors ---------------------------------------------------------------------------

    def register(self, site_key_id: str, origin: str, url: str, now: float, token: str = "",
                 ask_consent: bool = True) -> tuple[Visitor, str]:
        """Resume the visitor ``token`` names (same site key and origin), else make a new one;
        the visitor and the token its browser keeps (the same one when resumed)."""
        self.purge(now)
        found = self.by_token(token, now) if token else None
        if found is not None and found.site_key_id == site_key_id and found.origin == origin:
            found.url, found.seen_at, found.ask_consent = url, now, ask_consent
            self._visitors.move_to_end(found.short_id)
            return found, token
        token = new_secret()
        short = new_short_id()
        while short in self._visitors:
            short = new_short_id()
        visitor = Visitor(short, site_key_id, origin, digest(token), url, now, now, ask_consent)
        self._visitors[short] = visitor
        self._by_token[visitor.token_digest] = short
        while len(self._visitors) > self.limits.visitors:
            self._forget(next(iter(self._visitors)))
        return visitor, token

    def get(self, short_id: str, now: float) -> Visitor | None:
        visitor = self._visitors.get(normal_short_id(short_id))
        if visitor is None or now - visitor.seen_at > self.limits.visitor_idle:
            return None
        return visitor

    def by_token(self, token: str, now: float) -> Visitor | None:
        short = self._by_token.get(digest(token)) if token else None
        return self.get(short, now) if short else None

    def seen(self, visitor: Visitor, now: float) -> None:
        visitor.seen_at = now
        self._visitors.move_to_end(visitor.short_id)

    def hand_off(self, visitor: Visitor, cookies: tuple[SeedCookie, ...]) -> None:
        """Keep the site's HttpOnly cookies for the visitor's next session (replacing earlier ones)."""
        visitor.handoff = cookies[:MAX_HANDOFF_COOKIES]

    def _forget(self, short_id: str) -> None:
        visitor = self._visitors.pop(short_id, None)
        if visitor is not None:
            self._by_token.pop(visitor.token_digest, None)

    # -- watch links and watches ------------------------------------------------------------

    def issue_link(self, visitor: Visitor, agent: Agent, branding: Branding, now: float,
                   api_key_id: str = "") -> tuple[str, Watch]:
        """A single-use watch link's token for ``visitor``, and the link as kept."""
        self.purge(now)
        token = new_secret()
        link = Watch(digest(token), visitor.short_id, agent, branding, now + LINK_LIFETIME, api_key_id=api_key_id)
        self._keep(link)
        return token, link

    def open_link(self, token: str, now: float) -> tuple[Watch, str]:
        """Open a watch link: the watch the agent's browser now holds and its secret, or
        ``LinkRefused``. The visitor is asked (``asked_by``) unless already in a session."""
        link = self._watches.get(digest(token)) if token else None
        if link is None:
            raise LinkRefused("unknown", None)
        if link.opened:
            raise LinkRefused("used", link.branding)
        if link.expires_at <= now:
            raise LinkRefused("expired", link.branding)
        visitor = self.get(link.short_id, now)
        if visitor is None:
            raise LinkRefused("expired", link.branding)
        link.opened = True
        secret = new_secret()
        watch = Watch(digest(secret), link.short_id, link.agent, link.branding, now + LINK_LIFETIME,
                      opened=True, session_id=visitor.session_id, api_key_id=link.api_key_id)
        self._keep(watch)
        if not watch.session_id:
            visitor.asked_by.append(watch.id)
            visitor.declined = False
        return watch, secret

    def watch(self, secret: str, now: float) -> Watch | None:
        found = self._watches.get(digest(secret)) if secret else None
        if found is None or not found.opened or (found.expires_at <= now and not found.session_id):
            return None
        return found

    def pending(self, visitor: Visitor, now: float) -> Watch | None:
        """The first watch still waiting for the visitor's answer, if any."""
        for watch_id in visitor.asked_by:
            watch = self._watches.get(watch_id)
            if watch is not None and watch.expires_at > now and not watch.session_id:
                return watch
        return None

    def attach(self, visitor: Visitor, session_id: str) -> list[Watch]:
        """The visitor moved into ``session_id``: every watch waiting for it goes there too."""
        visitor.session_id = session_id
        waiting = [self._watches[w] for w in visitor.asked_by if w in self._watches]
        for watch in waiting:
            watch.session_id = session_id
        visitor.asked_by.clear()
        visitor.handoff = ()
        return waiting

    def decline(self, visitor: Visitor) -> None:
        visitor.declined = True
        visitor.asked_by.clear()

    def leave(self, visitor: Visitor) -> None:
        """The visitor's session is over for it: the next watch link asks again."""
        visitor.session_id = ""

    def _keep(self, watch: Watch) -> None:
        self._watches[watch.id] = watch
        while len(self._watches) > self.limits.links:
            self._watches.popitem(last=False)

    def purge(self, now: float) -> None:
        """Forget idle visitors and long-expired links and watches."""
        while self._visitors:
            oldest = next(iter(self._visitors.values()))
            if now - oldest.seen_at <= self.limits.visitor_idle:
                break
            self._forget(oldest.short_id)
        stale = [k for k, w in self._watches.items() if w.expires_at + self.limits.keep_expired <= now]
        for key in stale:
            del self._watches[key]
