"""The webhooks REST API: an API key's receivers of integration events (scope ``webhooks:manage``).

- ``POST   /api/v1/webhooks``  ``{"url", "events"?, "description"?}`` -> 201 with ``secret``, the
  signing secret, shown this once (``sessions.webhook_sign``);
- ``GET    /api/v1/webhooks``  -> ``{"webhooks": [...]}``, the calling key's own;
- ``GET    /api/v1/webhooks/{id}``, ``DELETE /api/v1/webhooks/{id}`` (204);
- ``GET    /api/v1/webhooks/{id}/deliveries?limit=`` -> the attempts log, newest first, and the
  webhook's counters (pending, delivered, failed, dropped).

Rules: a key sees and changes only its own webhooks (another key's id is a 404, as if it did
not exist); a webhook gets the events of the sessions its key created (``events``: the types
it wants, ``["*"]`` or absent for all). The URL must be absolute http(s) and pass the SSRF
guard now (its address is vetted again at every delivery): a loopback or private address only
when the server allows private targets. ``OPENAPI_PATHS`` describes these routes.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from proxy.api_auth import WEBHOOKS, Caller, caller
from proxy.keys import HOOKS, UPSTREAM
from proxy.openapi_parts import answer, json_body, operation, path_param, query_param
from proxy.problems import problem
from proxy.resolver import GuardedResolver
from proxy.session_json import iso
from proxy.upstream import UpstreamError
from sessions.integration_events import EVENT_TYPES
from sessions.policy import BASELINE
from sessions.safe_urls import MAX_URL_CHARS, absolute_http_url
from sessions.webhook_sign import new_secret
from sessions.webhook_state import Attempt, Counters, Webhook

MAX_BODY = 16 * 1024
MAX_DESCRIPTION = 200
ALL = "*"
routes = web.RouteTableDef()


def describe(hook: Webhook, counters: Counters) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "events": list(hook.events) or [ALL], "description": hook.description,
            "created_at": iso(hook.created_at), "counters": counters.to_json()}


def describe_attempt(attempt: Attempt) -> dict[str, Any]:
    return {"event_id": attempt.event_id, "event_type": attempt.event_type, "attempt": attempt.attempt,
            "at": iso(attempt.at), "outcome": attempt.outcome, "status": attempt.status or None,
            "error": attempt.error, "next_retry_at": iso(attempt.next_retry_at), "duration_ms": attempt.duration_ms}


def read_url(raw: object) -> str:
    url = absolute_http_url("url", raw)
    if not url:
        raise ValueError('"url" is required: where to POST events, e.g. "https://example.com/cobrowse-events"')
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError('"url" must not carry a user name or password: receivers check the signature instead')
    return url


def read_events(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise ValueError(f'"events" must be a non-empty list of event types ({", ".join(EVENT_TYPES)}) or ["*"]')
    unknown = [e for e in raw if e not in EVENT_TYPES and e != ALL]
    if unknown:
        raise ValueError(f'"events" names unknown types {unknown[:5]}; known: {", ".join(EVENT_TYPES)}, or "*"')
    return () if ALL in raw else tuple(dict.fromkeys(raw))


def read_description(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_DESCRIPTION:
        raise ValueError(f'"description" must be a string of at most {MAX_DESCRIPTION} characters')
    return raw


async def _refused_address(request: web.Request, url: str) -> str:
    """Why the SSRF guard refuses ``url`` now ("" when it does not)."""
    client = request.app[UPSTREAM]
    try:
        target = client.vet_url(url, BASELINE)
        settings = client.settings
        await GuardedResolver(client.policy, settings.resolve_overrides, settings.lookup).resolve(
            target.raw_host or "", target.port or 0)
    except UpstreamError as exc:
        return str(exc)
    except OSError as exc:
        return f"its host does not resolve ({exc.strerror or exc})"
    return ""


async def _read_body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object like {"url": "https://example.com/hook"}')
    return data


@routes.post("/api/v1/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    who = await caller(request, WEBHOOKS)
    if isinstance(who, web.Response):
        return who
    try:
        data = await _read_body(request)
        url, events = read_url(data.get("url")), read_events(data.get("events"))
        description = read_description(data.get("description"))
    except ValueError as exc:
        return problem(400, str(exc))
    refusal = await _refused_address(request, url)
    if refusal:
        return problem(422, f'"url" is not allowed on this server: {refusal}')
    hook = Webhook("wh_" + secrets.token_hex(8), who.key_id, url, new_secret(), time.time(), events, description)
    hooks = request.app[HOOKS]
    if not await hooks.add(hook):
        return problem(409, f"this API key has {hooks.limits.per_key} webhooks already, the most it may have; "
                            "delete one first (DELETE /api/v1/webhooks/{id})")
    body = {**describe(hook, Counters()), "secret": hook.secret}
    return web.json_response(body, status=201, headers={"Location": f"/api/v1/webhooks/{hook.id}",
                                                        "Cache-Control": "no-store"})


async def _own(request: web.Request) -> tuple[Caller, Webhook] | web.Response:
    who = await caller(request, WEBHOOKS)
    if isinstance(who, web.Response):
        return who
    hook = await request.app[HOOKS].get(request.match_info["hid"])
    if hook is None or hook.key_id != who.key_id:
        return problem(404, "no such webhook for this API key (GET /api/v1/webhooks lists the key's own)")
    return who, hook


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    who = await caller(request, WEBHOOKS)
    if isinstance(who, web.Response):
        return who
    hooks = request.app[HOOKS]
    found = [describe(h, await hooks.counters(h.id)) for h in await hooks.of_key(who.key_id)]
    return web.json_response({"webhooks": found})


@routes.get("/api/v1/webhooks/{hid}")
async def get_webhook(request: web.Request) -> web.Response:
    own = await _own(request)
    if isinstance(own, web.Response):
        return own
    return web.json_response(describe(own[1], await request.app[HOOKS].counters(own[1].id)))


@routes.delete("/api/v1/webhooks/{hid}")
async def delete_webhook(request: web.Request) -> web.Response:
    own = await _own(request)
    if isinstance(own, web.Response):
        return own
    await request.app[HOOKS].remove(own[1].id)
    return web.Response(status=204)


@routes.get("/api/v1/webhooks/{hid}/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    own = await _own(request)
    if isinstance(own, web.Response):
        return own
    raw = request.query.get("limit", "50")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 200:
        return problem(400, '"limit" must be a whole number from 1 to 200')
    hooks = request.app[HOOKS]
    log = await hooks.attempts(own[1].id, int(raw))
    return web.json_response({"webhook": own[1].id, "counters": (await hooks.counters(own[1].id)).to_json(),
                              "deliveries": [describe_attempt(a) for a in log]})


_COUNTED = ("pending", "delivered", "failed", "dropped")
_COUNTERS = {"type": "object", "required": list(_COUNTED),
             "properties": {k: {"type": "integer", "minimum": 0} for k in _COUNTED}}
_EVENTS = {"type": "array", "items": {"type": "string", "enum": [*EVENT_TYPES, ALL]}, "minItems": 1,
           "description": 'the event types to receive; ["*"] (or leaving it out) for all'}
_WEBHOOK_FIELDS: dict[str, Any] = {
    "id": {"type": "string"}, "url": {"type": "string"}, "events": _EVENTS, "description": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "counters": _COUNTERS}
_WEBHOOK = {"type": "object", "required": list(_WEBHOOK_FIELDS), "properties": _WEBHOOK_FIELDS}
_CREATED = {"type": "object", "required": [*_WEBHOOK_FIELDS, "secret"],
            "properties": {**_WEBHOOK_FIELDS, "secret": {
                "type": "string", "description": "the signing secret (docs/webhooks.md); shown only here"}}}
_ATTEMPT = {
    "type": "object",
    "required": ["event_id", "event_type", "attempt", "at", "outcome", "status", "error", "next_retry_at"],
    "properties": {
        "event_id": {"type": "string"}, "event_type": {"type": "string"},
        "attempt": {"type": "integer", "minimum": 0, "description": "1 for the first; 0 for a dropped event"},
        "at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "string", "enum": ["delivered", "retrying", "failed", "dropped"]},
        "status": {"type": ["integer", "null"], "description": "the receiver's HTTP status; null: no answer"},
        "error": {"type": "string"}, "next_retry_at": {"type": ["string", "null"], "format": "date-time"},
        "duration_ms": {"type": "number"},
    },
}
_CREATE_BODY = {"type": "object", "required": ["url"], "properties": {
    "url": {"type": "string", "maxLength": MAX_URL_CHARS, "description": "absolute http(s) URL to POST events to"},
    "events": _EVENTS, "description": {"type": "string", "maxLength": MAX_DESCRIPTION}}}
_HOOK_ID = [path_param("hid", "the webhook's id (wh_...)")]

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/webhooks": {
        "post": operation(
            "Add a receiver of this key's session events\n\nEvents of the sessions this key created are POSTed "
            "to it, signed (Cobrowse-Signature, docs/webhooks.md). The signing secret is in this answer only.",
            WEBHOOKS, {"201": answer("created; keep the secret, it is not shown again", _CREATED)},
            refusals=(400, 409, 422), operationId="createWebhook", tags=["webhooks"],
            requestBody=json_body(_CREATE_BODY)),
        "get": operation(
            "This key's webhooks, oldest first", WEBHOOKS,
            {"200": answer("the key's webhooks", {"type": "object", "required": ["webhooks"], "properties": {
                "webhooks": {"type": "array", "items": _WEBHOOK}}})},
            operationId="listWebhooks", tags=["webhooks"]),
    },
    "/api/v1/webhooks/{hid}": {
        "parameters": _HOOK_ID,
        "get": operation("One of this key's webhooks, with its counters", WEBHOOKS,
                         {"200": answer("the webhook", _WEBHOOK)}, refusals=(404,), operationId="getWebhook",
                         tags=["webhooks"]),
        "delete": operation("Remove a webhook (deliveries still queued for it are dropped)", WEBHOOKS,
                            {"204": {"description": "removed"}}, refusals=(404,), operationId="deleteWebhook",
                            tags=["webhooks"]),
    },
    "/api/v1/webhooks/{hid}/deliveries": {
        "parameters": _HOOK_ID,
        "get": operation(
            "The webhook's delivery attempts, newest first\n\nEach attempt (delivered, retrying with its next "
            "time, failed after the last attempt) and each event dropped because the webhook's queue was full.",
            WEBHOOKS,
            {"200": answer("the attempts log and the counters", {
                "type": "object", "required": ["webhook", "counters", "deliveries"], "properties": {
                    "webhook": {"type": "string"}, "counters": _COUNTERS,
                    "deliveries": {"type": "array", "items": _ATTEMPT}}})},
            refusals=(400, 404), operationId="listWebhookDeliveries", tags=["webhooks"],
            parameters=[query_param("limit", "how many lines, newest first (default 50)",
                                    {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})]),
    },
}
