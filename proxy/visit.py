"""Admission on a proxied host: which session, which participant, which real origin.

Every request to ``<label>--<session>-<view>.<domain>`` passes here first, with the host as the
door read it (``proxy.door``: parsed once per request). The answer is either
a ``Visit`` (everything the rest of the request needs) or an error response:
404 (unknown session / unknown origin label), 410 (session ended or
expired), 403 (no valid participant credential for this session; a participant the agent removed
is told so: ``removed_page``).

The participant is the one the signed credential names. A request the browser sent without
cookies (``fetch`` across origins in its default mode, web fonts, ``crossorigin=anonymous``,
``credentials: 'omit'``) is admitted for the participant whose view its host carries, as a
subresource only, made by a page of that view on an origin the session reached with a credential;
it goes upstream (or is served from the store) without the jar's cookies
(docs/participant-hosts.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from proxy.config import Config
from proxy.door import proxy_host
from proxy.keys import CONFIG, SERVICE, STORE
from proxy.pages import error_page
from proxy.security_headers import CLEAR_SITE_DATA
from rewriter.origins import Origin
from rewriter.space import ProxyHost, ProxySpace, parse_proxy_host
from sessions.credentials import cookie_name
from sessions.model import MAX_ALIASES, Participant, Session
from sessions.protocol import proxy_url
from sessions.service import Admission

log = logging.getLogger(__name__)
# Other origins an ended page clears at once (the rest are cleared when next visited).
SWEEP_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Visit:
    session: Session
    participant: Participant
    space: ProxySpace
    origin: Origin
    real_url: str
    # False for a request the browser sent without cookies (``fetch`` in its default mode
    # across origins, fonts, ``crossorigin=anonymous``): no jar cookies go upstream and none
    # come back into the jar, as the target would see it directly (docs/participant-hosts.md).
    credentialed: bool = True


def space_for(config: Config, session: Session, view: str = "") -> ProxySpace:
    """The URL space of one participant's ``view`` of the session (its hosts carry the view), with
    a private copy of the session's aliases (see ``persist_aliases``)."""
    return ProxySpace(session.id, config.domain, config.public_scheme, config.browser_port,
                      dict(session.aliases), view)


async def landing_url(app: web.Application, session: Session, real_url: str, view: str) -> str:
    """Where a participant lands: ``real_url`` in the session's proxy space (a new alias, for a
    host too long for a label, is stored so the landing host resolves). A URL that does not map
    into the space (``javascript:``, a proxy or control-plane host, a spelling the URL authority
    cannot place) is never a landing: the session's start URL is used instead."""
    space = space_for(app[CONFIG], session, view)
    # The start URL was checked (absolute http(s)) when the session was made.
    url = proxy_url(space, real_url) or space.to_proxy(session.target_url)
    if await store_aliases(app, session, space):
        # The session holds its maximum of aliases: land on the start (its alias came first).
        url = space.to_proxy(session.target_url)
    return url


async def persist_aliases(request: web.Request, visit: Visit) -> list[str]:
    """Store aliases that rewriting this exchange created (hosts too long for a label); the
    labels refused because the session holds ``MAX_ALIASES`` (their links lead to a 404)."""
    return await store_aliases(request.app, visit.session, visit.space)


async def store_aliases(app: web.Application, session: Session, space: ProxySpace) -> list[str]:
    """Store the aliases ``space`` made that ``session`` lacks, within the session's cap
    (``Session.add_aliases``, applied in the store's atomic update); the labels refused."""
    new = {k: v for k, v in space.aliases.items() if k not in session.aliases}
    if not new:
        return []
    refused = await app[STORE].update(session.id, lambda s: s.add_aliases(new)) or []
    if refused:
        log.warning("aliases.capped session=%s refused=%d max=%d", session.id, len(refused), MAX_ALIASES)
    return refused


def is_proxy_host(request: web.Request, config: Config) -> bool:
    """Whether the request is for a session's proxy host (read once per request: ``proxy.door``)."""
    return proxy_host(request, config.domain) is not None


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request to a proxy host goes: the live session and the real origin it names."""

    session: Session
    space: ProxySpace
    origin: Origin
    view: str  # the view the host carries ("" when none)

    def real_url(self, request: web.Request) -> str:
        return str(self.origin) + request.raw_path


async def locate(request: web.Request, host: ProxyHost) -> Place | web.Response:
    """The live session and real origin of the proxy ``host`` the request came to (``proxy.door``),
    or the page saying why there is none."""
    config = request.app[CONFIG]
    session = await request.app[STORE].get(host.session_id)
    if session is None:
        return error_page(404, "No such session", "This co-browsing session does not exist (or is long gone).")
    space = space_for(config, session, host.view)
    if not session.is_live(time.time()):
        return ended_page(session, space)
    origin = space.origin_of(host)
    if origin is None:
        return error_page(404, "Unknown site", "This address does not name a site of this session.")
    return Place(session, space, origin, host.view)


async def admit(request: web.Request, host: ProxyHost) -> Visit | web.Response:
    """The visit of a request to the proxy ``host`` (``proxy.door``), or the page refusing it."""
    place = await locate(request, host)
    if isinstance(place, web.Response):
        return place
    token = request.cookies.get(cookie_name(place.session.id))
    participant = await request.app[SERVICE].authenticate(place.session, token, time.time())
    if participant is None:
        named = request.app[SERVICE].named(place.session, token, time.time())
        return removed_page() if named is not None and named.revoked else _without_credential(request, place)
    if place.view and place.view != participant.view and _is_navigation(request):
        # Another participant's host (a link passed around): go on in this participant's own view.
        own = space_for(request.app[CONFIG], place.session, participant.view)
        return web.Response(status=302, headers={"Location": own.to_proxy(place.real_url(request)),
                                                 "Cache-Control": "no-store"})
    reached = str(place.origin)
    if reached not in place.session.reached_origins:  # CORS preflights from its pages may now pass
        await request.app[STORE].update(place.session.id, lambda s: s.note_reached(reached))
    # A host without a view (made before views, or typed by hand) keeps its page view-less; the
    # space ``locate`` built for the host is the participant's own in every other common case.
    space = (place.space if place.view in ("", participant.view)
             else space_for(request.app[CONFIG], place.session, participant.view))
    return Visit(place.session, participant, space, place.origin, place.real_url(request))


def _is_navigation(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") in _NAVIGATIONS


# What a browser sends without cookies is a subresource: never a document it navigates to.
_NAVIGATIONS = frozenset({"navigate", "nested-navigate"})
_DOCUMENTS = frozenset({"document", "iframe", "frame", "embed", "object"})


def _without_credential(request: web.Request, place: Place) -> Visit | web.Response:
    """The visit of a request sent without cookies, or the 403 saying why there is none: only a
    subresource that a page of this participant's view made (its ``Origin``, else its
    ``Referer``), on an origin the session reached with a credential (docs/participant-hosts.md)."""
    mode = request.headers.get("Sec-Fetch-Mode", "")
    dest = request.headers.get("Sec-Fetch-Dest", "")
    participant = place.session.by_view(place.view)
    if participant is None or not mode or mode in _NAVIGATIONS or dest in _DOCUMENTS:
        return no_pass()
    page = _initiator(request, place)
    if page is None or str(page) not in place.session.reached_origins:
        return no_pass()
    return Visit(place.session, participant, place.space, place.origin, place.real_url(request), credentialed=False)


def _initiator(request: web.Request, place: Place) -> Origin | None:
    """The real origin of the page that made the request, when that page is in the same view of
    the same session (browsers send ``Origin`` on CORS requests; ``Referer`` otherwise)."""
    sent = request.headers.get("Origin", "")
    if not sent or sent == "null":
        sent = request.headers.get("Referer", "")
    netloc = urlsplit(sent).netloc if "//" in sent else ""
    parsed = parse_proxy_host(netloc, request.app[CONFIG].domain) if netloc else None
    if parsed is None or parsed.view != place.view:
        return None
    return place.space.origin_of(parsed)


def no_pass() -> web.Response:
    return error_page(403, "Not a participant",
                      "This browser has no valid pass for this co-browsing session. "
                      "Open the link you were given again, or ask the agent for a new one.")


def removed_page() -> web.Response:
    """What a participant the agent removed gets from every host of the session from then on."""
    return error_page(403, "You were removed from this session",
                      "The agent removed you from this co-browsing session, so its pages are no longer shared "
                      "with you. You can close this tab; ask the agent for a new link to take part again.")


def ended_page(session: Session, space: ProxySpace) -> web.Response:
    """The 410 every host of an ended (or expired) session answers: it clears what the session
    left for that origin in the browser (``security_headers.CLEAR_SITE_DATA``), and through a
    hidden image from each origin the session reached (at most ``SWEEP_LIMIT``) theirs too;
    when the session has one, it sends the participant on to its (validated http(s))
    ``end_redirect_url``."""
    headers = {"Clear-Site-Data": CLEAR_SITE_DATA}
    if session.end_redirect_url:
        headers["Refresh"] = f"3; url={session.end_redirect_url}"
    sweep = [space.proxy_origin(Origin.parse(o)) for o in sorted(session.reached_origins)[:SWEEP_LIMIT]]
    return error_page(410, "This session has ended",
                      "The co-browsing session is over. You can close this tab.", headers, clear_origins=sweep)


def set_participant_cookie(response: web.StreamResponse, config: Config, admission: Admission) -> None:
    """The signed participant credential: HttpOnly, for the whole domain (every proxy host of the
    session receives it), SameSite=Lax (all session hosts are one site), Secure behind https."""
    response.set_cookie(admission.cookie_name, admission.credential, domain=config.domain, path="/",
                        max_age=admission.max_age, httponly=True, samesite="Lax",
                        secure=config.public_scheme == "https")
