"""The control plane on ``<domain>``: the REST API, the console page and the entry links.

REST (``Authorization: Bearer <api key>``):
- ``POST   /api/v1/sessions``             ``{"url", "agent": {"id", "name"}, "end_redirect_url"?, "options"?}``
  -> 201 (``end_redirect_url``: where participants go when the session ends; absolute http(s),
  printable ASCII, else 400; ``options``: ``sessions.options`` — ``allow_domains``,
  ``deny_domains``, ``view_only``, ``consent``, ``mask_selectors``, ``hide_selectors``; unset
  ones are the server's defaults; anything else is a 400 naming the field)
- ``GET    /api/v1/sessions/{id}``        -> 200 session description
- ``DELETE /api/v1/sessions/{id}``        -> 200, the session ends; its hosts answer 410
- ``POST   /api/v1/sessions/{id}/leader-link`` -> a fresh single-use leader link
- ``POST   /api/v1/sessions/{id}/follower-link`` -> a new follower link; the old one stops working
- ``GET    /api/v1/sessions/{id}/audit?format=jsonl|har|mitmproxy`` -> the session's audit trail
  (``proxy.audit_api``)
- ``GET    /healthz``                      -> 200 ``{"ok": true, "audit": {...counters}}`` (no key needed)
Browser:
- ``GET /``                               the console (``proxy.console_page``: talks to the API only;
                                          strict CSP, its one script and style allowed by hash)
- ``GET /enter/{id}?ticket=...``          redeems a ticket, sets the participant cookie,
                                          redirects into the session
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from proxy import audit
from proxy.api_auth import SESSIONS_READ, SESSIONS_WRITE, caller
from proxy.config import Config
from proxy.console_page import console_page
from proxy.ending import EXPIRIES, end_session
from proxy.keys import AUDIT, CONFIG, SERVICE, STORE, SYNC, TARGETS
from proxy.openapi_parts import answer, json_body, operation, path_param, ref
from proxy.pages import error_page, json_error
from proxy.security_headers import page_headers
from proxy.targets import judge_origin, policy_with
from proxy.visit import landing_url, set_participant_cookie
from rewriter.origins import Origin
from sessions.model import Session
from sessions.options import parse_options
from sessions.service import AdmissionError
from sessions.store import StoreFull

MAX_API_BODY = 64 * 1024
log = logging.getLogger("cobrowse.sessions")
routes = web.RouteTableDef()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _describe(config: Config, session: Session, now: float) -> dict[str, Any]:
    return {
        "id": session.id,
        "url": session.target_url,
        "status": "live" if session.is_live(now) else "ended",
        "created_at": _iso(session.created_at),
        "expires_at": _iso(session.expires_at),
        "ended_at": _iso(session.ended_at),
        "participants": [
            {"id": p.id, "role": p.role, "name": p.name, "joined_at": _iso(p.joined_at)}
            for p in session.participants.values() if not p.revoked
        ],
        "controller": session.controller,
        "options": session.options.to_json(),
    }


def enter_url(config: Config, session_id: str, ticket: str) -> str:
    return f"{config.control_origin}/enter/{session_id}?ticket={quote(ticket)}"


def follower_url(config: Config, session_id: str, invitation: str) -> str:
    return f"{config.control_origin}/join/{session_id}?invitation={quote(invitation)}"


def validate_target(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError('"url" is required: the page the session starts on, e.g. "https://example.com/"')
    url = raw.strip()
    if len(url) > 8192:
        raise ValueError('"url" is longer than 8192 characters')
    try:
        origin = Origin.parse(url)
    except ValueError as exc:
        raise ValueError(f'"url" must be an absolute http(s) URL ({exc})') from exc
    if url.split(":", 1)[0].lower() not in ("http", "https"):
        raise ValueError('"url" must use http or https')
    del origin
    return url


def validate_end_redirect(raw: object) -> str:
    """``end_redirect_url``: absent, or an absolute http(s) URL of printable ASCII.

    It is sent in a ``Refresh`` header and followed by the runtime when the session ends, so a
    CR/LF (header injection), a space or another control character, or a scheme such as
    ``javascript:`` or ``data:`` is refused here, at the door.
    """
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise ValueError('"end_redirect_url" must be a string, e.g. "https://example.com/thanks"')
    if len(raw) > 2048:
        raise ValueError('"end_redirect_url" is longer than 2048 characters')
    if not all(0x21 <= ord(c) <= 0x7E for c in raw):
        raise ValueError('"end_redirect_url" must not contain spaces, line breaks (CR, LF), other control '
                         'characters or non-ASCII characters (percent-encode them)')
    if "\\" in raw:
        raise ValueError('"end_redirect_url" must not contain a backslash (browsers read it as "/")')
    parts = urlsplit(raw)
    slashes = raw[len(parts.scheme) + 1:].startswith("//")
    if parts.scheme.lower() not in ("http", "https") or not slashes or not parts.hostname:
        raise ValueError('"end_redirect_url" must be an absolute http or https URL, e.g. "https://example.com/thanks"')
    return raw


@routes.post("/api/v1/sessions")
async def create_session(request: web.Request) -> web.Response:
    who = caller(request, SESSIONS_WRITE)
    if isinstance(who, web.Response):
        return who
    raw = await request.content.read(MAX_API_BODY + 1)
    if len(raw) > MAX_API_BODY:
        return json_error(413, f"request body larger than {MAX_API_BODY} bytes")
    try:
        data = json.loads(raw or b"null")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        url = validate_target(data.get("url"))
        agent = data.get("agent") or {}
        if not isinstance(agent, dict):
            raise ValueError('"agent" must be an object like {"id": "a1", "name": "Ann"}')
        agent_id, agent_name = str(agent.get("id", ""))[:200], str(agent.get("name", "Agent"))[:200]
        end_redirect = validate_end_redirect(data.get("end_redirect_url"))
        config = request.app[CONFIG]
        options = parse_options(data.get("options"), config.session_defaults)
    except ValueError as exc:
        return json_error(400, str(exc))
    refusal = judge_origin(policy_with(request.app[TARGETS], options), Origin.parse(url))
    if refusal is not None:
        # Refused now, not on the agent's first page load: the caller learns why at once.
        return json_error(403, f'"url" is not allowed on this server: {refusal}')
    now = time.time()
    try:
        created = await request.app[SERVICE].create(url, agent_id, agent_name, now,
                                                     end_redirect_url=end_redirect, options=options,
                                                     api_key_id=who.key_id)
    except StoreFull as exc:
        return json_error(503, str(exc))
    session = created.session
    request.app[EXPIRIES].watch(session.id, session.expires_at)
    log.info("session.created session=%s agent=%s", session.id, agent_id or "-")
    audit.event(request.app, session.id, session.leader_id, "created", url=url, agent=agent_id)
    body = _describe(config, session, now)
    body["leader_url"] = enter_url(config, session.id, created.leader_ticket)
    body["follower_url"] = follower_url(config, session.id, created.invitation)
    return web.json_response(body, status=201, headers={"Location": f"/api/v1/sessions/{session.id}"})


async def _session_or_error(request: web.Request, scope: str = SESSIONS_WRITE) -> Session | web.Response:
    who = caller(request, scope)
    if isinstance(who, web.Response):
        return who
    session = await request.app[STORE].get(request.match_info["sid"])
    if session is None:
        return json_error(404, "no such session")
    return session


@routes.get("/api/v1/sessions/{sid}")
async def get_session(request: web.Request) -> web.Response:
    session = await _session_or_error(request, SESSIONS_READ)
    if isinstance(session, web.Response):
        return session
    body = _describe(request.app[CONFIG], session, time.time())
    body["sync"] = request.app[SYNC].counters(session.id)  # relayed/dropped counters, null before any socket
    return web.json_response(body)


@routes.delete("/api/v1/sessions/{sid}")
async def delete_session(request: web.Request) -> web.Response:
    session = await _session_or_error(request)
    if isinstance(session, web.Response):
        return session
    now = time.time()
    ended = await end_session(request.app, session.id, now, by="api")
    assert ended is not None
    return web.json_response(_describe(request.app[CONFIG], ended, now))


@routes.post("/api/v1/sessions/{sid}/leader-link")
async def new_leader_link(request: web.Request) -> web.Response:
    session = await _session_or_error(request)
    if isinstance(session, web.Response):
        return session
    config = request.app[CONFIG]
    try:
        ticket = await request.app[SERVICE].issue_ticket(
            session.id, session.leader_id, session.target_url, time.time())
    except AdmissionError as exc:
        return json_error(exc.status, exc.message)
    return web.json_response({"leader_url": enter_url(config, session.id, ticket)}, status=201)


@routes.post("/api/v1/sessions/{sid}/follower-link")
async def new_follower_link(request: web.Request) -> web.Response:
    """Revoke the current follower link and answer a new one (visitors already in stay in)."""
    session = await _session_or_error(request)
    if isinstance(session, web.Response):
        return session
    try:
        invitation = await request.app[SERVICE].revoke_invitation(session.id, time.time())
    except AdmissionError as exc:
        return json_error(exc.status, exc.message)
    return web.json_response({"follower_url": follower_url(request.app[CONFIG], session.id, invitation)},
                             status=201)


@routes.get("/enter/{sid}")
async def enter(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    ticket = request.query.get("ticket", "")
    if not ticket:
        return error_page(400, "Incomplete link", "This link has no ticket. Copy the whole link you were given.")
    try:
        admission = await request.app[SERVICE].redeem(request.match_info["sid"], ticket, time.time())
    except AdmissionError as exc:
        return error_page(exc.status, "Cannot enter the session", exc.message)
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


@routes.get("/")
async def console(request: web.Request) -> web.Response:
    page = console_page()
    return web.Response(text=page, content_type="text/html",
                        headers={"Cache-Control": "no-store", **page_headers(page, connect="'self'")})


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    # The audit writer's counters: records written, dropped on overflow (never silently), queued.
    return web.json_response({"ok": True, "audit": request.app[AUDIT].counters()})


# The OpenAPI description of this module's routes (proxy.openapi joins it into /api/v1/openapi.json).
_SID = path_param("sid", "the session's id")


def _link_path(summary: str, field: str, operation_id: str) -> dict[str, Any]:
    link = {"type": "object", "required": [field], "properties": {field: {"type": "string", "format": "uri"}}}
    return {"parameters": [_SID], "post": operation(summary, SESSIONS_WRITE, {"201": answer("the link", link)},
                                                    refusals=(404, 410), operationId=operation_id)}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/sessions": {
        "post": operation(
            "Start a session on a URL", SESSIONS_WRITE,
            {"201": answer("the session, with the leader's single-use link and the visitors' link",
                           ref("CreatedSession"))},
            refusals=(400, 413, 503), operationId="createSession", requestBody=json_body(ref("SessionCreate"))),
    },
    "/api/v1/sessions/{sid}": {
        "parameters": [_SID],
        "get": operation("Describe a session", SESSIONS_READ, {"200": answer("the session", ref("Session"))},
                         refusals=(404,), operationId="getSession"),
        "delete": operation("End a session (its hosts answer 410 from now on)", SESSIONS_WRITE,
                            {"200": answer("the ended session", ref("Session"))},
                            refusals=(404,), operationId="endSession"),
    },
    "/api/v1/sessions/{sid}/leader-link": _link_path("A fresh single-use link for the leader", "leader_url",
                                                     "newLeaderLink"),
    "/api/v1/sessions/{sid}/follower-link": _link_path(
        "A new visitors' link; the old one stops working (visitors already in stay)", "follower_url",
        "newFollowerLink"),
}
