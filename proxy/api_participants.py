"""The REST API for who takes part in a session, and who controls it.

- ``GET    /api/v1/sessions/{sid}/participants`` -> ``{"participants": [Participant]}``, each with
  its ``status``: ``waiting`` (for the agent's approval), ``active``, ``left`` (its last page
  closed and none came back, ``proxy.presence``) or ``removed``;
- ``DELETE /api/v1/sessions/{sid}/participants/{pid}`` removes a participant, or declines a
  waiting visitor: its credential is refused from then on (its next page load says it was
  removed), its sync sockets are closed with 4003 (the runtime shows it), control it held goes
  back to the agent; an audit event ``removed``. The leader cannot be removed (409);
- ``POST   .../participants/{pid}/approve`` lets a waiting visitor in (its waiting page moves
  on by itself): audit ``approved`` and ``joined``;
- ``POST   /api/v1/sessions/{sid}/control {"participant": pid}`` hands control to that participant
  through the session's relay, by the leader's own rules (``sessions.relay.Relay.give``): to the
  leader it is the agent taking control (which, under the consent option, asks a driving
  visitor first: ``action`` "requested"); a follower in a view-only session, or one with no
  page open (control would stall every page's loads on a driver that sends none), is refused (409);
- ``POST   .../visitor-links {"name", "expires_in"?}`` -> a named single-use visitor link (the
  visitor joins with that name, fixed), valid ``expires_in`` seconds (default one hour, at most
  the session's life);
- ``POST   .../pin`` -> a 6-digit PIN for the ``/pin`` page (``proxy.pin``), valid 10 minutes,
  once; a new PIN replaces the session's previous one.

Reads need ``sessions:read``, changes ``sessions:write``; errors are problem documents.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from proxy import audit
from proxy.api_auth import SESSIONS_READ, SESSIONS_WRITE, caller
from proxy.keys import CONFIG, SERVICE, STORE, SYNC
from proxy.openapi_parts import answer, json_body, operation, path_param, ref
from proxy.pin import PINS
from proxy.presence import PRESENCE
from proxy.problems import problem
from proxy.syncws import carry_out
from sessions.model import Participant, Session
from sessions.pins import PinBookFull
from sessions.relay import Member
from sessions.service import AdmissionError

MAX_BODY = 4 * 1024
LINK_LIFETIME = 3600.0
routes = web.RouteTableDef()
_SESSION = "/api/v1/sessions/{sid}"
_PARTICIPANT = _SESSION + "/participants/{pid}"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def status_of(app: web.Application, session: Session, participant: Participant) -> str:
    if participant.revoked:
        return "removed"
    if participant.waiting:
        return "waiting"
    return "left" if app[PRESENCE].away(session.id, participant.id) else "active"


def participant_json(app: web.Application, session: Session, participant: Participant) -> dict[str, Any]:
    """A participant as the API describes it (the ``Participant`` schema)."""
    return {"id": participant.id, "role": participant.role, "name": participant.name,
            "status": status_of(app, session, participant), "joined_at": _iso(participant.joined_at)}


async def _session(request: web.Request, scope: str) -> Session | web.Response:
    who = await caller(request, scope)
    if isinstance(who, web.Response):
        return who
    session = await request.app[STORE].get(request.match_info["sid"])
    return session if session is not None else problem(404, "no such session")


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return problem(413, f"request body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return problem(400, "the body must be JSON")
    return data if isinstance(data, dict) else problem(400, "the body must be a JSON object")


async def _session_and_body(request: web.Request) -> tuple[Session, dict[str, Any]] | web.Response:
    """A write on a session with a JSON object body: both, or the refusal of the first that fails."""
    session = await _session(request, SESSIONS_WRITE)
    if isinstance(session, web.Response):
        return session
    data = await _body(request)
    return data if isinstance(data, web.Response) else (session, data)


def _refused(exc: AdmissionError) -> web.Response:
    return problem(exc.status, exc.message)


@routes.get(_SESSION + "/participants")
async def list_participants(request: web.Request) -> web.Response:
    session = await _session(request, SESSIONS_READ)
    if isinstance(session, web.Response):
        return session
    return web.json_response({"participants": [participant_json(request.app, session, p)
                                               for p in session.participants.values()]})


async def _participant_step(request: web.Request, step: str) -> tuple[Session, Participant, bool] | web.Response:
    """The session, and the participant after the service's ``step`` (``remove`` or ``approve``)
    with whether it changed anything; or the refusal."""
    session = await _session(request, SESSIONS_WRITE)
    if isinstance(session, web.Response):
        return session
    service = request.app[SERVICE]
    act = {"remove": service.remove, "approve": service.approve}[step]
    try:
        participant, changed = await act(session.id, request.match_info["pid"], time.time())
    except AdmissionError as exc:
        return _refused(exc)
    return session, participant, changed


@routes.delete(_PARTICIPANT)
async def remove_participant(request: web.Request) -> web.Response:
    done = await _participant_step(request, "remove")
    if isinstance(done, web.Response):
        return done
    session, participant, changed = done
    if changed and session.is_live(time.time()):  # an ended session has no room or presence left
        outcome, relay = await request.app[SYNC].apply(session, lambda r: r.remove(participant.id, time.time()))
        request.app[PRESENCE].removed(session.id, participant.id)
        if relay is not None:
            await carry_out(request, relay, outcome, session.leader_id)
    if changed:
        audit.event(request.app, session.id, participant.id, "removed", by="api",
                    reason="declined" if participant.waiting else "removed")
    return web.json_response(participant_json(request.app, session, participant))


@routes.post(_PARTICIPANT + "/approve")
async def approve_participant(request: web.Request) -> web.Response:
    done = await _participant_step(request, "approve")
    if isinstance(done, web.Response):
        return done
    session, participant, was_waiting = done
    if was_waiting:
        audit.event(request.app, session.id, participant.id, "approved", by="api")
        audit.event(request.app, session.id, participant.id, "joined", role=participant.role, name=participant.name)
    return web.json_response(participant_json(request.app, session, participant))


@routes.post(_SESSION + "/control")
async def give_control(request: web.Request) -> web.Response:
    asked = await _session_and_body(request)
    if isinstance(asked, web.Response):
        return asked
    session, data = asked
    pid = data.get("participant")
    if not isinstance(pid, str) or not pid:
        return problem(400, '"participant" is required: the id of the participant to give control to '
                            '(the leader\'s id takes it back)')
    target = session.participants.get(pid)
    if target is None:
        return problem(404, f"no participant {pid!r} in this session")
    refusal = _control_refusal(session, target, time.time())
    if refusal:
        return problem(409, refusal)
    hub = request.app[SYNC]
    relay = await hub.rooms.read(session.id)
    if target.role != "leader" and (relay is None or not relay.connected(target.id)):
        # A driver with no page would hold every other page's loads waiting for its requests.
        return problem(409, "this participant has no page open in the session: control goes only to someone "
                            "connected (ask them to open their link, then try again)")
    outcome, after = await hub.apply(session, lambda r: r.give(Member(target.id, target.role, target.name),
                                                               time.time()))
    assert after is not None
    await carry_out(request, after, outcome, session.leader_id)
    return web.json_response({"controller": after.controller, "action": outcome.control_action})


def _control_refusal(session: Session, target: Participant, now: float) -> str:
    if not session.is_live(now):
        return "this session has ended"
    if target.revoked:
        return "this participant was removed from the session"
    if target.waiting:
        return "this visitor is still waiting to be let in: approve them first"
    if session.options.view_only and target.role != "leader":
        return "this session is view-only: visitors watch and never get control"
    return ""


@routes.post(_SESSION + "/visitor-links")
async def new_visitor_link(request: web.Request) -> web.Response:
    asked = await _session_and_body(request)
    if isinstance(asked, web.Response):
        return asked
    session, data = asked
    name, lifetime = data.get("name"), data.get("expires_in", LINK_LIFETIME)
    if not isinstance(name, str) or not name.strip() or len(name) > 60:
        return problem(400, '"name" is required: the visitor\'s name, 1 to 60 characters, e.g. "Vic"')
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not 60 <= lifetime <= 86400:
        return problem(400, '"expires_in" must be a number of seconds from 60 to 86400 (default 3600)')
    try:
        secret, link = await request.app[SERVICE].issue_visitor_link(session.id, name, time.time(), float(lifetime))
    except AdmissionError as exc:
        return _refused(exc)
    url = f"{request.app[CONFIG].control_origin}/join/{session.id}?link={quote(secret)}"
    return web.json_response({"url": url, "name": link.name, "expires_at": _iso(link.expires_at)}, status=201)


@routes.post(_SESSION + "/pin")
async def new_pin(request: web.Request) -> web.Response:
    session = await _session(request, SESSIONS_WRITE)
    if isinstance(session, web.Response):
        return session
    now = time.time()
    if not session.is_live(now):
        return problem(410, "this session has ended")
    try:
        issued = await request.app[PINS].issue(session.id, now, session.expires_at)
    except PinBookFull as exc:
        return problem(503, str(exc), headers={"Retry-After": "60"})
    return web.json_response({"pin": issued.pin, "pin_url": f"{request.app[CONFIG].control_origin}/pin",
                              "expires_at": _iso(issued.expires_at)}, status=201)


# ---- the OpenAPI description of these routes (proxy.openapi joins it into /api/v1/openapi.json)

_SID = path_param("sid", "the session's id")
_PID = path_param("pid", "the participant's id")
_TIME = {"type": "string", "format": "date-time"}
_PARTICIPANTS = {"type": "object", "required": ["participants"],
                 "properties": {"participants": {"type": "array", "items": ref("Participant")}}}
_CONTROL_BODY = {"type": "object", "required": ["participant"],
                 "properties": {"participant": {"type": "string", "minLength": 1}}}
_CONTROL = {"type": "object", "required": ["controller", "action"],
            "properties": {"controller": {"type": "string"},
                           "action": {"enum": ["granted", "taken", "requested"],
                                      "description": "requested: the driving visitor is asked first (consent)"}}}
_LINK_BODY = {"type": "object", "required": ["name"],
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 60},
                             "expires_in": {"type": "number", "minimum": 60, "maximum": 86400}}}
_LINK = {"type": "object", "required": ["url", "name", "expires_at"],
         "properties": {"url": {"type": "string", "format": "uri"}, "name": {"type": "string"}, "expires_at": _TIME}}
_PIN = {"type": "object", "required": ["pin", "pin_url", "expires_at"],
        "properties": {"pin": {"type": "string", "pattern": "^[0-9]{6}$"},
                       "pin_url": {"type": "string", "format": "uri"}, "expires_at": _TIME}}

OPENAPI_PATHS: dict[str, Any] = {
    _SESSION + "/participants": {
        "parameters": [_SID],
        "get": operation("Who takes part: each participant with its status (waiting, active, left, removed)",
                         SESSIONS_READ, {"200": answer("the participants", _PARTICIPANTS)}, refusals=(404,),
                         operationId="listParticipants"),
    },
    _PARTICIPANT: {
        "parameters": [_SID, _PID],
        "delete": operation("Remove a participant, or decline a waiting visitor (the leader cannot be removed)",
                            SESSIONS_WRITE, {"200": answer("the participant, now removed", ref("Participant"))},
                            refusals=(404, 409), operationId="removeParticipant"),
    },
    _PARTICIPANT + "/approve": {
        "parameters": [_SID, _PID],
        "post": operation("Let a waiting visitor in (sessions with require_approval)", SESSIONS_WRITE,
                          {"200": answer("the participant, now active", ref("Participant"))},
                          refusals=(404, 409), operationId="approveParticipant"),
    },
    _SESSION + "/control": {
        "parameters": [_SID],
        "post": operation("Give control to a participant (to the leader: take it back)", SESSIONS_WRITE,
                          {"200": answer("who controls now, and what happened", _CONTROL)},
                          refusals=(400, 404, 409, 413), operationId="giveControl",
                          requestBody=json_body(_CONTROL_BODY)),
    },
    _SESSION + "/visitor-links": {
        "parameters": [_SID],
        "post": operation("A named, single-use visitor link (the visitor joins with that name)", SESSIONS_WRITE,
                          {"201": answer("the link", _LINK)}, refusals=(400, 404, 409, 410, 413),
                          operationId="newVisitorLink", requestBody=json_body(_LINK_BODY)),
    },
    _SESSION + "/pin": {
        "parameters": [_SID],
        "post": operation("A 6-digit PIN a visitor types on the PIN page (valid 10 minutes, once)", SESSIONS_WRITE,
                          {"201": answer("the PIN and the page to type it on", _PIN)}, refusals=(404, 410, 503),
                          operationId="newPin"),
    },
}
