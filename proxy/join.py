"""The follower's way in, on the control plane: the join page and its form.

- ``GET  /join/{sid}?invitation=...``  the join page: a display name, and a notice of what the
  agent will see. Refusals come first, as clear pages: 404 unknown session, 410 ended,
  403 wrong or revoked invitation, 409 session full.
- ``POST /join/{sid}`` (form: invitation, name) admits a new follower (``SessionService.join``),
  sets the participant cookie exactly as ``/enter`` does (``Domain=<domain>``, HttpOnly,
  SameSite=Lax, signed) and redirects (303) to the driver's current page: the relay's current
  URL in the proxy space, else the session's target URL.

A browser that already holds a valid follower credential for the session is sent on without a
second participant being made; one that holds the leader's is refused (joining would replace
the agent's own pass in that browser).
"""

from __future__ import annotations

import html
import time
from importlib import resources

from aiohttp import web

from proxy import audit
from proxy.keys import CONFIG, SERVICE, SYNC
from proxy.pages import error_page
from proxy.security_headers import page_headers, session_hosts
from proxy.visit import landing_url, set_participant_cookie
from sessions.credentials import cookie_name
from sessions.model import Participant, Session
from sessions.service import AdmissionError

MAX_FORM_BYTES = 8 * 1024
routes = web.RouteTableDef()
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "frame-ancestors 'none'"}


def _refused(exc: AdmissionError) -> web.Response:
    return error_page(exc.status, "Cannot join the session", exc.message)


async def _landing(request: web.Request, session: Session, participant: Participant) -> str:
    """Where a follower lands: the driver's current page, in the follower's view of the session."""
    return await landing_url(request.app, session, request.app[SYNC].current_url(session.id) or session.target_url,
                             participant.view)


@routes.get("/join/{sid}")
async def join_page(request: web.Request) -> web.Response:
    invitation = request.query.get("invitation", "")
    if not invitation:
        return error_page(400, "Incomplete link", "This link has no invitation. Copy the whole link you were given.")
    try:
        session = await request.app[SERVICE].check_invitation(request.match_info["sid"], invitation, time.time())
    except AdmissionError as exc:
        return _refused(exc)
    leader = session.participants.get(session.leader_id)
    values = {"agent": leader.name if leader else "the agent", "sid": session.id, "invitation": invitation}
    page = resources.files("static").joinpath("join.html").read_text("utf-8")
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
    # The form posts here and is redirected into a session host: both are allowed form targets.
    form_action = f"'self' {session_hosts(request.app[CONFIG])}"
    return web.Response(text=page, content_type="text/html",
                        headers={**_HEADERS, **page_headers(page, form_action=form_action)})


@routes.post("/join/{sid}")
async def join(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_FORM_BYTES:
        return error_page(413, "Form too large", "The join form sent more than it should.")
    form = await request.post()
    invitation, name = str(form.get("invitation", "")), str(form.get("name", ""))
    service = request.app[SERVICE]
    sid = request.match_info["sid"]
    now = time.time()
    existing = await _already_in(request, sid, now)
    if existing is not None:
        return existing
    try:
        admission = await service.join(sid, invitation, name, now)
    except AdmissionError as exc:
        return _refused(exc)
    config = request.app[CONFIG]
    joined = await service.store.get(sid)
    assert joined is not None
    landing = await _landing(request, joined, admission.participant)
    response = web.Response(status=303, headers={**_HEADERS, "Location": landing})
    set_participant_cookie(response, config, admission)
    audit.event(request.app, sid, admission.participant.id, "joined", role=admission.participant.role,
                name=admission.participant.name)
    return response


async def _already_in(request: web.Request, sid: str, now: float) -> web.Response | None:
    """A browser that is already a participant: send a follower on, refuse the leader's browser."""
    service = request.app[SERVICE]
    session = await service.store.get(sid)
    if session is None or not session.is_live(now):
        return None
    participant = await service.authenticate(session, request.cookies.get(cookie_name(sid)), now)
    if participant is None:
        return None
    if participant.role == "leader":
        return error_page(409, "Already in this session",
                          "This browser is the agent's in this session. Open the visitor link in another "
                          "browser or a private window.")
    return web.Response(status=303, headers={**_HEADERS, "Location": await _landing(request, session, participant)})
