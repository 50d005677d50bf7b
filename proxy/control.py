"""The control plane on ``<domain>``: the console page, the entry links, the health check.

The REST API lives in its own modules: the sessions resource in ``proxy.api_sessions``, its
participants in ``proxy.api_participants``, audit exports in ``proxy.audit_api``.

- ``GET    /healthz``                      -> 200 ``{"ok": true, "audit": {...counters}}`` (no key needed)
Browser:
- ``GET /``                               the console (``proxy.console_page``: talks to the API only;
                                          strict CSP, its one script and style allowed by hash)
- ``GET /enter/{id}?ticket=...``          redeems a ticket, sets the participant cookie,
                                          redirects into the session (``enter_url`` makes these links;
                                          ``follower_url`` the visitors' ``/join`` links)
"""

from __future__ import annotations

import time
from urllib.parse import quote

from aiohttp import web

from proxy import audit
from proxy.config import Config
from proxy.console_page import console_page
from proxy.keys import AUDIT, CONFIG, SERVICE, STORE
from proxy.pages import error_page
from proxy.security_headers import page_headers
from proxy.visit import landing_url, set_participant_cookie
from sessions.service import AdmissionError

routes = web.RouteTableDef()


def enter_url(config: Config, session_id: str, ticket: str) -> str:
    return f"{config.control_origin}/enter/{session_id}?ticket={quote(ticket)}"


def follower_url(config: Config, session_id: str, invitation: str) -> str:
    return f"{config.control_origin}/join/{session_id}?invitation={quote(invitation)}"


@routes.get("/enter/{sid}")
async def enter(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    ticket = request.query.get("ticket", "")
    if not ticket:
        return error_page(400, "Incomplete link", "This link has no ticket. Copy the whole link you were given.")
    try:
        admission = await request.app[SERVICE].redeem(request.match_info["sid"], ticket, time.time())
    except AdmissionError as exc:
        return await _refused_entry(request, exc)
    session = await request.app[STORE].get(request.match_info["sid"])
    assert session is not None  # redeem just found it
    response = web.Response(status=302, headers={"Location": await landing_url(
        request.app, session, admission.next_url, admission.participant.view)})
    set_participant_cookie(response, config, admission)
    audit.event(request.app, session.id, admission.participant.id, "joined", role=admission.participant.role,
                name=admission.participant.name)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _refused_entry(request: web.Request, exc: AdmissionError) -> web.StreamResponse:
    """A link that was used, expired or whose session ended: to the session's ``branding.retry_url``
    when it has one (the integrator's page that gets the agent a new link), else a clear page."""
    session = await request.app[STORE].get(request.match_info["sid"])
    retry = session.options.branding.retry_url if session is not None else ""
    if retry and exc.status in (403, 410):
        return web.Response(status=303, headers={"Location": retry, "Cache-Control": "no-store",
                                                 "Referrer-Policy": "no-referrer"})
    return error_page(exc.status, "Cannot enter the session", exc.message)


@routes.get("/")
async def console(request: web.Request) -> web.Response:
    page = console_page()
    return web.Response(text=page, content_type="text/html",
                        headers={"Cache-Control": "no-store", **page_headers(page, connect="'self'")})


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    # The audit writer's counters: records written, dropped on overflow (never silently), queued.
    return web.json_response({"ok": True, "audit": request.app[AUDIT].counters()})

