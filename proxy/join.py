"""The visitor's way in, on the control plane: the join page, its form, and the waiting page.

- ``GET  /join/{sid}?invitation=...`` (the session's follower link) or ``?link=...`` (a single-use
  visitor link: named by the agent, the name is fixed; or opened by a PIN, ``proxy.pin``): the
  join page: a display name, and a consent notice of what is shared (the pages browsed in this
  session and what is typed into them), what stays private (masked fields) and who controls.
  Refusals come first, as clear pages: 404 unknown session, 410 ended or expired, 403 wrong,
  used or expired link, 409 session full.
- ``POST /join/{sid}`` (form: invitation or link, name) admits a new follower
  (``SessionService.join``), sets the participant cookie exactly as ``/enter`` does
  (``Domain=<domain>``, HttpOnly, SameSite=Lax, signed) and redirects (303) to the driver's
  current page: the relay's current URL in the proxy space, else the session's target URL. In a
  session with ``require_approval`` it redirects to the waiting page instead.
- ``GET /join/{sid}/wait``: the waiting page ("waiting for the agent to let you in"); its script
  polls ``GET /join/{sid}/status`` (``{"state": waiting|admitted|declined|ended, "url"?}``,
  read with the participant cookie, which the control plane receives too) and goes on to the
  landing page once the agent approves (``proxy.api_participants``). Without script it reloads
  itself, and the page itself redirects an admitted visitor.

A browser that already holds a valid follower credential for the session is sent on without a
second participant being made (to the waiting page while it waits); one that holds the leader's
is refused (joining would replace the agent's own pass in that browser); one the agent removed
is refused through the invitation, not through a visitor link or PIN made for it afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiohttp import web

from proxy import audit
from proxy.join_pages import NO_STORE, agent_name, consent_values, page_response, render
from proxy.keys import CONFIG, SERVICE, SYNC
from proxy.pages import error_page
from proxy.security_headers import session_hosts
from proxy.visit import landing_url, set_participant_cookie
from sessions.credentials import cookie_name
from sessions.model import Participant, Session
from sessions.service import AdmissionError, Door

MAX_FORM_BYTES = 8 * 1024
routes = web.RouteTableDef()
# The title of each refusal's page, by status.
_REFUSED = {404: "No such session", 410: "This session is over", 403: "This link does not work",
            409: "This session is full"}


def _refused(exc: AdmissionError) -> web.Response:
    return error_page(exc.status, _REFUSED.get(exc.status, "Cannot join the session"), exc.message)


def _door(values: Mapping[str, object]) -> Door:
    return Door(invitation=str(values.get("invitation", "")), link=str(values.get("link", "")))


async def _landing(request: web.Request, session: Session, participant: Participant) -> str:
    """Where a follower lands: the driver's current page, in the follower's view of the session."""
    here = await request.app[SYNC].current_url(session.id) or session.target_url
    return await landing_url(request.app, session, here, participant.view)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={**NO_STORE, "Location": location})


@routes.get("/join/{sid}")
async def join_page(request: web.Request) -> web.Response:
    door = _door(request.query)
    if not door.invitation and not door.link:
        return error_page(400, "Incomplete link", "This link has no invitation. Copy the whole link you were given.")
    try:
        session, fixed_name = await request.app[SERVICE].check_door(request.match_info["sid"], door, time.time())
    except AdmissionError as exc:
        return _refused(exc)
    kind, secret = ("link", door.link) if door.link else ("invitation", door.invitation)
    approval = ("The agent lets each visitor in: after you join, you wait a moment on the next page."
                if session.options.require_approval else "")
    values = {"agent": agent_name(session), "sid": session.id, "secret": secret, "name": fixed_name,
              "approval": approval, **consent_values(session)}
    flags = {"door": kind, "locked": 'readonly aria-readonly="true"' if fixed_name else ""}
    # The form posts here and is redirected into a session host: both are allowed form targets.
    return page_response(render("join.html", values, flags),
                         form_action=f"'self' {session_hosts(request.app[CONFIG])}")


@routes.post("/join/{sid}")
async def join(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_FORM_BYTES:
        return error_page(413, "Form too large", "The join form sent more than it should.")
    form = await request.post()
    service = request.app[SERVICE]
    sid = request.match_info["sid"]
    now = time.time()
    door = _door(form)
    existing = await _already_in(request, sid, door, now)
    if existing is not None:
        return existing
    try:
        admission = await service.join(sid, door, str(form.get("name", "")), now)
    except AdmissionError as exc:
        return _refused(exc)
    joined = await service.store.get(sid)
    assert joined is not None
    follower = admission.participant
    if follower.waiting:
        response = _see_other(f"/join/{sid}/wait")
        audit.event(request.app, sid, follower.id, "waiting", role=follower.role, name=follower.name)
    else:
        response = _see_other(await _landing(request, joined, follower))
        audit.event(request.app, sid, follower.id, "joined", role=follower.role, name=follower.name)
    set_participant_cookie(response, request.app[CONFIG], admission)
    return response


async def _already_in(request: web.Request, sid: str, door: Door, now: float) -> web.Response | None:
    """A browser that is already a participant: send a follower on, refuse the leader's browser,
    and refuse one the agent removed the way back through the shared invitation (a visitor link
    or PIN is the agent's own new decision: it lets the browser in again)."""
    service = request.app[SERVICE]
    session = await service.store.get(sid)
    if session is None or not session.is_live(now):
        return None
    participant = service.named(session, request.cookies.get(cookie_name(sid)), now)
    if participant is None or (participant.revoked and door.link):
        return None
    if participant.revoked:
        return error_page(403, "You were removed from this session",
                          "The agent removed you from this session, so this link no longer lets you in. "
                          "Ask the agent for a new link or a PIN if you should take part again.")
    if participant.role == "leader":
        return error_page(409, "Already in this session",
                          "This browser is the agent's in this session. Open the visitor link in another "
                          "browser or a private window.")
    if participant.waiting:
        return _see_other(f"/join/{sid}/wait")
    return _see_other(await _landing(request, session, participant))


async def _standing(request: web.Request) -> tuple[str, Session | None, Participant | None]:
    """Where this browser stands in the session: waiting, admitted, declined (removed), ended or unknown."""
    service = request.app[SERVICE]
    now = time.time()
    session = await service.store.get(request.match_info["sid"])
    if session is None:
        return "unknown", None, None
    participant = service.named(session, request.cookies.get(cookie_name(session.id)), now)
    if participant is None:
        return "unknown", session, None
    if participant.revoked:
        return "declined", session, participant
    if not session.is_live(now):
        return "ended", session, participant
    return ("waiting" if participant.waiting else "admitted"), session, participant


@routes.get("/join/{sid}/status")
async def join_status(request: web.Request) -> web.Response:
    state, session, participant = await _standing(request)
    body: dict[str, str] = {"state": state}
    if state == "admitted" and session is not None and participant is not None:
        body["url"] = await _landing(request, session, participant)
    return web.json_response(body, headers=NO_STORE)


@routes.get("/join/{sid}/wait")
async def wait_page(request: web.Request) -> web.Response:
    state, session, participant = await _standing(request)
    if state == "admitted" and session is not None and participant is not None:
        return _see_other(await _landing(request, session, participant))
    if state == "waiting" and session is not None and participant is not None:
        values = {"agent": agent_name(session), "sid": session.id, "name": participant.name}
        return page_response(render("wait.html", values), connect="'self'")
    return error_page(*_SETTLED.get(state, _SETTLED["unknown"]))


# The waiting page's ends without the wait: status, title, message.
_SETTLED = {
    "declined": (403, "You were not let in",
                 "The agent did not let you into this co-browsing session, or removed you from it. "
                 "You can close this tab."),
    "ended": (410, "This session is over", "The session ended before you were let in. You can close this tab."),
    "unknown": (403, "Not waiting to join",
                "This browser is not waiting to join this session. Open the link or PIN page you were given again."),
}
