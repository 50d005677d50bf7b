"""The sessions resource of the REST API: create, list, describe, end; fresh entry links.

- ``POST   /api/v1/sessions`` ``{"url", "agent": {"id", "name"}, "options"?, "metadata"?,
  "end_redirect_url"?}`` -> 201 the session (``proxy.session_json``) with ``leader_url`` and
  ``follower_url``. Options are read strictly (``sessions.options``; a 400 names the field);
  ``options.cookies``/``options.storage`` seed the session (``proxy.seeding``). With an
  ``Idempotency-Key`` header the same key (per API key) answers the first 201 body again for 24 h
  (``Idempotent-Replayed: true``) without making another session; the same key with another
  body is a 422 naming the fields that differ; while the first is still being served, a 409.
- ``GET    /api/v1/sessions?status=&agent=&created_after=&created_before=&limit=&cursor=`` ->
  ``{"sessions": [...], "next_cursor"}``, newest first (``sessions.listing``).
- ``GET    /api/v1/sessions/{id}`` -> the session, with its sync counters.
- ``DELETE /api/v1/sessions/{id}`` -> the ended session (``ended_reason`` ``api``); its hosts
  answer 410 from then on. Ending an ended session changes nothing and answers it again.
- ``POST   /api/v1/sessions/{id}/leader-link`` -> a fresh single-use leader link.
- ``POST   /api/v1/sessions/{id}/follower-link`` -> a new visitors' link; the old one stops working.

Every route first asks ``proxy.api_auth.caller`` for the key and scope; every refusal is a
problem document. ``OPENAPI_PATHS`` describes these routes for ``proxy.openapi``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any, Final

from aiohttp import web

from proxy import audit
from proxy.api_auth import SESSIONS_READ, SESSIONS_WRITE, Caller, caller
from proxy.config import Config
from proxy.control import enter_url, follower_url
from proxy.ending import EXPIRIES, end_session
from proxy.keys import CONFIG, SERVICE, STORE, SYNC, TARGETS
from proxy.openapi_parts import answer, json_body, operation, path_param, query_param, ref
from proxy.pages import json_error
from proxy.seeding import SessionSeed, plant, read_seed
from proxy.session_json import describe
from proxy.targets import judge_origin, policy_with
from rewriter.origins import Origin
from sessions.idempotency import Outcome, check_key, fingerprint
from sessions.lifecycle import END_REASONS, Lifecycle
from sessions.listing import DEFAULT_LIMIT, MAX_LIMIT, parse_query
from sessions.model import Session
from sessions.options import OptionLimits, SessionOptions, parse_metadata, parse_options, split_seed
from sessions.safe_urls import absolute_http_url
from sessions.service import AdmissionError
from sessions.store import StoreFull
from sessions.strict import refuse_unknown

MAX_API_BODY: Final = 1024 * 1024  # a seed (cookies, page storage) can be large; still bounded
MAX_AGENT_CHARS: Final = 200
BODY_FIELDS: Final = ("url", "agent", "options", "metadata", "end_redirect_url")
log = logging.getLogger("cobrowse.sessions")
routes = web.RouteTableDef()


def lifecycle(config: Config) -> Lifecycle:
    return Lifecycle(config.session_lifetime, config.idle_timeout, config.retention)


def option_limits(config: Config) -> OptionLimits:
    return OptionLimits(max_followers=config.max_followers, max_expires_in=config.max_session_lifetime,
                        max_idle_timeout=config.max_session_lifetime)


def validate_target(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError('"url" is required: the page the session starts on, e.g. "https://example.com/"')
    url = raw.strip()
    if len(url) > 8192:
        raise ValueError('"url" is longer than 8192 characters')
    try:
        Origin.parse(url)
    except ValueError as exc:
        raise ValueError(f'"url" must be an absolute http(s) URL ({exc})') from exc
    if url.split(":", 1)[0].lower() not in ("http", "https"):
        raise ValueError('"url" must use http or https')
    return url


def _agent(raw: object) -> tuple[str, str]:
    if raw is None:
        return "", "Agent"
    if not isinstance(raw, dict) or set(raw) - {"id", "name"}:
        raise ValueError('"agent" must be an object with "id" and "name" only, like {"id": "a1", "name": "Ann"}')
    for name in ("id", "name"):
        value = raw.get(name)
        if value is not None and not (isinstance(value, (str, int)) and not isinstance(value, bool)):
            raise ValueError(f'"agent.{name}" must be a string')
        if len(str(value or "")) > MAX_AGENT_CHARS:
            raise ValueError(f'"agent.{name}" is longer than {MAX_AGENT_CHARS} characters')
    return str(raw.get("id") or ""), str(raw.get("name") or "Agent")


def read_create(data: Any, config: Config, now: float) -> tuple[str, str, str, SessionOptions, SessionSeed]:
    """The create body, strictly: (url, agent id, agent name, options, seed); ValueError names the field."""
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object, e.g. {"url": "https://example.com/"}')
    refuse_unknown("the body", data, BODY_FIELDS)
    url = validate_target(data.get("url"))
    agent_id, agent_name = _agent(data.get("agent"))
    raw_options, seed_fields = split_seed(data.get("options"))
    options = parse_options(raw_options, config.session_defaults, option_limits(config))
    top_redirect = absolute_http_url("end_redirect_url", data.get("end_redirect_url"))
    if top_redirect and options.end_redirect_url and top_redirect != options.end_redirect_url:
        raise ValueError('"end_redirect_url" and "options.end_redirect_url" differ: give one of them')
    if top_redirect:
        options = replace(options, end_redirect_url=top_redirect)
    if data.get("metadata") is not None:
        if isinstance(raw_options, dict) and "metadata" in raw_options:
            raise ValueError('"metadata" and "options.metadata" are both given: give one of them')
        options = replace(options, metadata=parse_metadata("metadata", data["metadata"]))
    return url, agent_id, agent_name, options, read_seed(seed_fields, url, now)


async def _read_json(request: web.Request) -> Any:
    raw = await request.content.read(MAX_API_BODY + 1)
    if len(raw) > MAX_API_BODY:
        raise OverflowError(f"request body larger than {MAX_API_BODY} bytes")
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ValueError(f"the body is not JSON ({exc})") from None


@routes.post("/api/v1/sessions")
async def create_session(request: web.Request) -> web.Response:
    who = await caller(request, SESSIONS_WRITE)
    if isinstance(who, web.Response):
        return who
    try:
        data = await _read_json(request)
    except OverflowError as exc:
        return json_error(413, str(exc))
    except ValueError as exc:
        return json_error(400, str(exc))
    key_header = request.headers.get("Idempotency-Key")
    if key_header is None:
        return await _create(request, who, data)
    try:
        key = f"{who.key_id}\n{check_key(key_header)}"
    except ValueError as exc:
        return json_error(400, str(exc))
    store, now = request.app[STORE], time.time()
    claim = await store.claim_idempotency(key, fingerprint(data if isinstance(data, dict) else {"": data}), now)
    if claim.outcome is Outcome.REPLAY:
        kept = json.loads(claim.body)
        return web.json_response(kept, status=201, headers={"Location": f"/api/v1/sessions/{kept['id']}",
                                                            "Idempotent-Replayed": "true"})
    if claim.outcome is Outcome.CLASH:
        return json_error(422, "this Idempotency-Key was used before with a different request body (fields that "
                               f"differ: {', '.join(claim.differing)}); send a new key for a new session")
    if claim.outcome is Outcome.PENDING:
        return json_error(409, "a request with this Idempotency-Key is still being served; retry in a moment",
                          headers={"Retry-After": "1"})
    response: web.Response | None = None
    try:
        response = await _create(request, who, data)
    finally:
        if response is not None and response.status == 201 and response.text is not None:
            await store.settle_idempotency(key, response.text, time.time())
        else:
            await store.release_idempotency(key)
    return response


async def _create(request: web.Request, who: Caller, data: Any) -> web.Response:
    config, now = request.app[CONFIG], time.time()
    try:
        url, agent_id, agent_name, options, seed = read_create(data, config, now)
    except ValueError as exc:
        return json_error(400, str(exc))
    refusal = judge_origin(policy_with(request.app[TARGETS], options), Origin.parse(url))
    if refusal is not None:
        # Refused now, not on the agent's first page load: the caller learns why at once.
        return json_error(403, f'"url" is not allowed on this server: {refusal}')
    life = lifecycle(config)
    options = life.resolved(options, config.max_followers)
    try:
        created = await request.app[SERVICE].create(
            url, agent_id, agent_name, now, lifetime=life.lifetime_of(options),
            end_redirect_url=options.end_redirect_url, options=options, api_key_id=who.key_id)
    except StoreFull as exc:
        return json_error(503, str(exc))
    session = created.session
    await request.app[EXPIRIES].watch(session.id, session.expires_at, life.idle_timeout_of(options))
    if not seed.empty:
        await plant(request.app, session, seed, now)
    log.info("session.created session=%s agent=%s", session.id, agent_id or "-")
    audit.event(request.app, session.id, session.leader_id, "created", url=url, agent=agent_id)
    body = describe(request.app, session, now)
    body["leader_url"] = enter_url(config, session.id, created.leader_ticket)
    body["follower_url"] = follower_url(config, session.id, created.invitation)
    return web.json_response(body, status=201, headers={"Location": f"/api/v1/sessions/{session.id}"})


@routes.get("/api/v1/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    who = await caller(request, SESSIONS_READ)
    if isinstance(who, web.Response):
        return who
    try:
        query = parse_query(request.query)
    except ValueError as exc:
        return json_error(400, str(exc))
    now = time.time()
    found = await request.app[STORE].list(query, now)
    return web.json_response({"sessions": [describe(request.app, s, now) for s in found.sessions],
                              "next_cursor": found.next_cursor})


async def session_or_error(request: web.Request, scope: str = SESSIONS_WRITE) -> Session | web.Response:
    """The session the path names, after the key check; else the refusal to answer."""
    who = await caller(request, scope)
    if isinstance(who, web.Response):
        return who
    session = await request.app[STORE].get(request.match_info["sid"])
    if session is None:
        return json_error(404, "no such session (it never existed, or it ended and its retention period passed)")
    return session


@routes.get("/api/v1/sessions/{sid}")
async def get_session(request: web.Request) -> web.Response:
    session = await session_or_error(request, SESSIONS_READ)
    if isinstance(session, web.Response):
        return session
    body = describe(request.app, session, time.time())
    body["sync"] = await request.app[SYNC].counters(session.id)  # relayed/dropped counters, null before any socket
    return web.json_response(body)


@routes.delete("/api/v1/sessions/{sid}")
async def delete_session(request: web.Request) -> web.Response:
    session = await session_or_error(request)
    if isinstance(session, web.Response):
        return session
    now = time.time()
    ended = session if not session.is_live(now) else await end_session(request.app, session.id, now, by="api")
    if ended is None:  # purged between the two looks
        return json_error(404, "no such session")
    return web.json_response(describe(request.app, ended, now))


@routes.post("/api/v1/sessions/{sid}/leader-link")
async def new_leader_link(request: web.Request) -> web.Response:
    session = await session_or_error(request)
    if isinstance(session, web.Response):
        return session
    try:
        ticket = await request.app[SERVICE].issue_ticket(
            session.id, session.leader_id, session.target_url, time.time())
    except AdmissionError as exc:
        return json_error(exc.status, exc.message)
    return web.json_response({"leader_url": enter_url(request.app[CONFIG], session.id, ticket)}, status=201)


@routes.post("/api/v1/sessions/{sid}/follower-link")
async def new_follower_link(request: web.Request) -> web.Response:
    """Revoke the current follower link and answer a new one (visitors already in stay in)."""
    session = await session_or_error(request)
    if isinstance(session, web.Response):
        return session
    try:
        invitation = await request.app[SERVICE].revoke_invitation(session.id, time.time())
    except AdmissionError as exc:
        return json_error(exc.status, exc.message)
    return web.json_response({"follower_url": follower_url(request.app[CONFIG], session.id, invitation)},
                             status=201)


# The OpenAPI description of these routes (proxy.openapi joins it into /api/v1/openapi.json).
_STRINGS: Final[dict[str, Any]] = {"type": "array", "items": {"type": "string", "minLength": 1}}
_URL: Final[dict[str, Any]] = {"type": "string", "maxLength": 2048,
                               "description": "absolute http(s) URL of printable ASCII"}
_METADATA: Final[dict[str, Any]] = {
    "type": "object", "maxProperties": 50, "description": "your own labels: a flat object of strings",
    "propertyNames": {"pattern": "^[A-Za-z0-9_.:-]{1,40}$"},
    "additionalProperties": {"type": "string", "maxLength": 500}}
_CREATE: Final[dict[str, Any]] = {
    "type": "object", "required": ["url"], "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "description": "absolute http(s) URL the session starts on",
                "example": "https://example.com/"},
        "agent": {"type": "object", "additionalProperties": False,
                  "properties": {"id": {"type": "string", "maxLength": MAX_AGENT_CHARS},
                                 "name": {"type": "string", "maxLength": MAX_AGENT_CHARS}}},
        "end_redirect_url": _URL,
        "metadata": _METADATA,
        "options": {
            "type": "object", "additionalProperties": False,
            "description": "unset options are the server's defaults; lists of selectors and denied domains add "
                           "to the server's",
            "properties": {
                "allow_domains": _STRINGS, "deny_domains": _STRINGS, "mask_selectors": _STRINGS,
                "hide_selectors": _STRINGS, "view_only": {"type": "boolean"}, "consent": {"type": "boolean"},
                "require_approval": {"type": "boolean", "description": "visitors wait until the agent approves"},
                "max_followers": {"type": ["integer", "null"], "minimum": 1,
                                  "description": "at most the server's --max-followers"},
                "expires_in": {"type": ["integer", "null"], "minimum": 60,
                               "description": "seconds the session lives; at most the server's maximum lifetime"},
                "idle_timeout": {"type": ["integer", "null"], "minimum": 0,
                                 "description": "seconds without activity that end the session (0: never; else "
                                                "at least 30)"},
                "end_redirect_url": _URL,
                "branding": {"type": "object", "additionalProperties": False,
                             "properties": {"naked": {"type": "boolean"}, "no_bottom_bar": {"type": "boolean"},
                                            "retry_url": _URL}},
                "metadata": _METADATA,
                "cookies": {"type": "array", "description": "the visitor's cookies to seed the session's jar "
                                                            "(docs/snippet.md)"},
                "storage": {"type": "object", "description": "the visitor's page storage for the target's origin "
                                                             "(docs/snippet.md)"},
            },
        },
    },
}
_SID: Final = path_param("sid", "the session's id")
_LIST_PARAMS: Final = [
    query_param("status", "only live or only ended sessions", {"enum": ["live", "ended"]}),
    query_param("agent", "only the sessions of this agent id", {"type": "string", "minLength": 1,
                                                                 "maxLength": MAX_AGENT_CHARS}),
    query_param("created_after", "only sessions created after this instant (ISO 8601)",
                {"type": "string", "format": "date-time"}),
    query_param("created_before", "only sessions created before this instant (ISO 8601)",
                {"type": "string", "format": "date-time"}),
    query_param("limit", f"sessions per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    query_param("cursor", "next_cursor of the previous page, unchanged", {"type": "string"}),
]
_REASONS: Final = "; ".join(f"`{k}`: {v}" for k, v in END_REASONS.items())
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/sessions": {
        "post": operation(
            "Start a session on a URL\n\nWith an `Idempotency-Key` header, the same key answers the first "
            "201 again for 24 hours (header `Idempotent-Replayed: true`); the same key with another body is a 422.",
            SESSIONS_WRITE,
            {"201": answer("the session, with the leader's single-use link and the visitors' link",
                           ref("CreatedSession"))},
            refusals=(400, 403, 409, 413, 422, 503), operationId="createSession", requestBody=json_body(_CREATE),
            parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                         "description": "any 1 to 255 printable ASCII characters, e.g. a UUID",
                         "schema": {"type": "string", "minLength": 1, "maxLength": 255}}]),
        "get": operation(
            "List sessions, newest first", SESSIONS_READ,
            {"200": answer("one page of sessions", {
                "type": "object", "required": ["sessions", "next_cursor"],
                "properties": {"sessions": {"type": "array", "items": ref("Session")},
                               "next_cursor": {"type": ["string", "null"]}}})},
            refusals=(400,), operationId="listSessions", parameters=_LIST_PARAMS),
    },
    "/api/v1/sessions/{sid}": {
        "parameters": [_SID],
        "get": operation("Describe a session", SESSIONS_READ, {"200": answer("the session", ref("Session"))},
                         refusals=(404,), operationId="getSession"),
        "delete": operation(f"End a session (its hosts answer 410 from now on)\n\nEnd reasons: {_REASONS}.",
                            SESSIONS_WRITE, {"200": answer("the ended session", ref("Session"))},
                            refusals=(404,), operationId="endSession"),
    },
    "/api/v1/sessions/{sid}/leader-link": {
        "parameters": [_SID],
        "post": operation(
            "A fresh single-use link for the leader", SESSIONS_WRITE,
            {"201": answer("the link", {"type": "object", "required": ["leader_url"],
                                        "properties": {"leader_url": {"type": "string", "format": "uri"}}})},
            refusals=(404, 410), operationId="newLeaderLink"),
    },
    "/api/v1/sessions/{sid}/follower-link": {
        "parameters": [_SID],
        "post": operation(
            "A new visitors' link; the old one stops working (visitors already in stay)", SESSIONS_WRITE,
            {"201": answer("the link", {"type": "object", "required": ["follower_url"],
                                        "properties": {"follower_url": {"type": "string", "format": "uri"}}})},
            refusals=(404, 410), operationId="newFollowerLink"),
    },
}
