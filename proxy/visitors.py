"""Visitors of an integrator's site in the server: their registry, their sessions, watch links.

The visitor snippet (``static/snippet.js``, served with its endpoints by ``proxy.snippet_api``)
registers the visitors; ``proxy.watch`` serves the pages a watch link opens. This module holds
what both share, and the REST API for integrators:

- ``POST /api/v1/visitors/{short_id}/watch_url`` ``{agent?: {id, name}, branding?}`` (scope
  ``visitors:watch``) -> 201 ``{watch_url, expires_at}``: a single-use link, valid for
  ``sessions.visitors.LINK_LIFETIME``, that starts (or joins) the visitor's session for the
  agent without further authorization; ``branding.retry_url`` is where it sends the agent once
  expired or used;
- ``POST /api/v1/visitors/continuation`` ``{visitor_token, cookies}`` (scope ``visitors:watch``):
  the site's own server hands over the visitor's HttpOnly cookies (which the page cannot read)
  for the visitor's next session (``docs/snippet.md`` has an example endpoint).

``start_for_visitor`` is the one way a visitor's session starts: the agent of the first watch
waiting for the visitor is its leader (a placeholder "Agent" otherwise, whom a later watch link
enters as), the visitor is a follower **in control** (it drives; the agent watches and may ask
for control), and the visitor's state seeds it (``proxy.seeding``).
The registry is in the shared state (``proxy.visitor_book``): a visitor registered through one
server process is watched through any other, and a change announced by one wakes the long polls
held by all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from proxy import audit
from proxy.api_auth import VISITORS_WATCH, caller
from proxy.control import enter_url
from proxy.ending import EXPIRIES
from proxy.keys import CONFIG, SERVICE, STORE, TARGETS
from proxy.openapi_parts import answer, json_body, operation, path_param
from proxy.problems import problem
from proxy.seeding import SessionSeed, plant
from proxy.targets import judge_origin, policy_with
from proxy.visitor_book import VisitorBook
from rewriter.origins import Origin
from sessions.branding import Branding, parse_branding
from sessions.model import Session
from sessions.seed import parse_cookies
from sessions.service import AdmissionError, Door
from sessions.shared import Shared, Subscription
from sessions.store import StoreFull
from sessions.visitors import Agent, Visitor

MAX_API_BODY = 64 * 1024
CHANNEL = "visitors"  # short ids of visitors something changed for
log = logging.getLogger("cobrowse.visitors")
routes = web.RouteTableDef()


class Visitors:
    """The visitor registry every process shares (``proxy.visitor_book``) and this process's
    held long polls, woken by a change any process announces on the channel ``visitors``."""

    def __init__(self, shared: Shared, poll_seconds: float = 25.0) -> None:
        self.registry = VisitorBook(shared)
        self.poll_seconds = poll_seconds  # how long a long poll is held while nothing changes
        self._shared = shared
        self._changed: dict[str, asyncio.Event] = {}
        self._closed = False
        self._waiting = 0
        self._heard: Subscription | None = None

    async def start(self) -> None:
        self._heard = await self._shared.subscribe(CHANNEL, self._wake)

    async def stop(self) -> None:
        if self._heard is not None:
            await self._heard.close()
            self._heard = None

    async def notify(self, short_id: str) -> None:
        """Something changed for ``short_id``: wake its long polls (the snippet's and the agents'),
        on every process."""
        await self._shared.publish(CHANNEL, short_id)

    def _wake(self, short_id: str) -> None:
        event = self._changed.pop(short_id, None)
        if event is not None:
            event.set()

    def held(self) -> int:
        """How many long polls (the snippet's and the agents') are held now."""
        return self._waiting

    def wake_all(self) -> None:
        """Answer every held long poll now, and hold none from now on (the server is stopping:
        they must not hold it up)."""
        self._closed = True
        for short_id in list(self._changed):
            self._wake(short_id)

    def expect(self, short_id: str) -> asyncio.Event:
        """What a change for ``short_id`` sets: taken before the state is read, so that a change
        made while it is read is not missed."""
        return self._changed.setdefault(short_id, asyncio.Event())

    async def wait(self, short_id: str, seconds: float, event: asyncio.Event | None = None) -> bool:
        """Until a change for ``short_id`` (since ``event`` was taken with ``expect``, else from
        now) or ``seconds`` pass, whichever comes first; False once the server is stopping (a
        poll then answers at once instead of waiting again)."""
        if self._closed:
            return False
        event = event if event is not None else self.expect(short_id)
        self._waiting += 1
        try:
            await asyncio.wait_for(event.wait(), max(0.0, seconds))
        except TimeoutError:
            if self._changed.get(short_id) is event and not event.is_set():
                del self._changed[short_id]
        finally:
            self._waiting -= 1
        return not self._closed


VISITORS = web.AppKey("visitors", Visitors)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


async def watch_link(app: web.Application, visitor: Visitor, agent: Agent, branding: Branding,
                     api_key_id: str = "") -> tuple[str, str]:
    """A fresh watch link for ``visitor``: its URL on the control plane and when it expires; the
    session it starts belongs to ``api_key_id`` (its events go to that key's webhooks)."""
    token, link = await app[VISITORS].registry.issue_link(visitor, agent, branding, time.time(), api_key_id)
    return f"{app[CONFIG].control_origin}/watch/{quote(token)}", iso(link.expires_at)


async def live_session(app: web.Application, visitor: Visitor, now: float) -> Session | None:
    """The visitor's session while it is live (the registry forgets an ended one)."""
    session = await app[STORE].get(visitor.session_id) if visitor.session_id else None
    if session is not None and session.is_live(now):
        return session
    if visitor.session_id:  # a shared write only when there is something to forget
        await app[VISITORS].registry.leave(visitor)
    return None


async def start_for_visitor(app: web.Application, visitor: Visitor, url: str, seed: SessionSeed,
                            now: float) -> str | web.Response:
    """Start the visitor's session at ``url`` with ``seed``; the URL that takes the visitor in
    (a fresh single-use ticket), or the refusal."""
    registry = app[VISITORS].registry
    config = app[CONFIG]
    pending = await registry.pending(visitor, now)
    agent = pending.agent if pending is not None else Agent()
    # The visitor drives: nobody approves it in (require_approval is for visitors an agent lets in).
    options = replace(config.session_defaults, require_approval=False,
                      branding=pending.branding if pending is not None else Branding())
    refusal = judge_origin(policy_with(app[TARGETS], options), Origin.parse(url))
    if refusal is not None:
        return problem(403, f"this page may not be co-browsed on this server: {refusal}")
    service = app[SERVICE]
    try:
        # When the session ends the visitor goes back to the page it came from.
        created = await service.create(url, agent.id, agent.name, now, end_redirect_url=url, options=options,
                                       api_key_id=pending.api_key_id if pending is not None else "")
        admission = await service.join(created.session.id, Door(invitation=created.invitation),
                                       f"Visitor {visitor.short_id}", now)
    except StoreFull as exc:
        return problem(503, str(exc))
    except AdmissionError as exc:
        return problem(exc.status, exc.message)
    session, pid = created.session, admission.participant.id

    def hand_control(s: Session) -> None:
        s.controller = pid

    await app[STORE].update(session.id, hand_control)
    await plant(app, session, seed, now)
    ticket = await service.issue_ticket(session.id, pid, url, now)
    await app[EXPIRIES].watch(session.id, session.expires_at)
    audit.event(app, session.id, session.leader_id, "created", url=url, agent=agent.id)
    await registry.attach(visitor, session.id, now)
    await app[VISITORS].notify(visitor.short_id)
    log.info("visitor.started session=%s visitor=%s", session.id, visitor.short_id)
    return enter_url(config, session.id, ticket)


# -- the REST API ------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_API_BODY + 1)
    if len(raw) > MAX_API_BODY:
        raise ValueError(f"request body larger than {MAX_API_BODY} bytes")
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _agent(raw: Any) -> Agent:
    if raw is None:
        return Agent()
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k, ""), str) for k in ("id", "name")):
        raise ValueError('"agent" must be an object like {"id": "a1", "name": "Ann"}')
    return Agent(raw.get("id", "")[:200], raw.get("name", "").strip()[:200] or "Agent")


@routes.post("/api/v1/visitors/{short_id}/watch_url")
async def api_watch_url(request: web.Request) -> web.Response:
    who = await caller(request, VISITORS_WATCH)
    if isinstance(who, web.Response):
        return who
    try:
        data = await _json_body(request)
        agent, branding = _agent(data.get("agent")), parse_branding("branding", data.get("branding"))
    except ValueError as exc:
        return problem(400, str(exc))
    visitor = await request.app[VISITORS].registry.get(request.match_info["short_id"], time.time())
    if visitor is None:
        return problem(404, "no visitor with this id is on the site now: ask the visitor to read the id "
                            "shown by the site again (it changes after hours away)")
    url, expires = await watch_link(request.app, visitor, agent, branding, who.key_id)
    return web.json_response({"watch_url": url, "expires_at": expires}, status=201,
                             headers={"Cache-Control": "no-store"})


@routes.post("/api/v1/visitors/continuation")
async def api_continuation(request: web.Request) -> web.Response:
    who = await caller(request, VISITORS_WATCH)
    if isinstance(who, web.Response):
        return who
    now = time.time()
    try:
        data = await _json_body(request)
        cookies = parse_cookies(data.get("cookies"), now, "cookies")
    except ValueError as exc:
        return problem(400, str(exc))
    token = data.get("visitor_token")
    visitor = await request.app[VISITORS].registry.by_token(token, now) if isinstance(token, str) else None
    if visitor is None:
        return problem(404, 'no such visitor: pass the "visitor_token" the snippet sent your endpoint')
    await request.app[VISITORS].registry.hand_off(visitor, cookies)
    return web.json_response({"cookies": len(cookies)}, headers={"Cache-Control": "no-store"})


_WATCH_LINK = {"type": "object", "required": ["watch_url", "expires_at"],
               "properties": {"watch_url": {"type": "string", "format": "uri"},
                              "expires_at": {"type": "string", "format": "date-time"}}}
_AGENT = {"type": "object", "additionalProperties": False,
          "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
_BRANDING = {"type": "object", "additionalProperties": False,
             "properties": {"naked": {"type": "boolean"}, "no_bottom_bar": {"type": "boolean"},
                            "retry_url": {"type": "string", "format": "uri"}}}
_COOKIE = {"type": "object", "required": ["name"],
           "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "domain": {"type": "string"},
                          "path": {"type": "string"}, "secure": {"type": "boolean"},
                          "httpOnly": {"type": "boolean"}, "expires": {"type": "number"},
                          "sameSite": {"type": "string", "enum": ["Strict", "Lax", "None"]}}}

# The OpenAPI description of this module's routes (proxy.openapi joins it into /api/v1/openapi.json).
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/visitors/{short_id}/watch_url": {
        "parameters": [path_param("short_id", "the visitor's short id, as the site shows it (case and dashes "
                                              "do not matter)")],
        "post": operation(
            "A watch link for a visitor of a site carrying the snippet\n\nSingle use, valid for 10 minutes: "
            "opening it asks the visitor for consent (unless the site turned that off), then starts the "
            "session with the visitor in control, or joins the visitor's live session.",
            VISITORS_WATCH, {"201": answer("the watch link", _WATCH_LINK)}, refusals=(400, 404),
            operationId="createWatchUrl",
            requestBody=json_body({"type": "object", "properties": {"agent": _AGENT, "branding": _BRANDING}},
                                  required=False)),
    },
    "/api/v1/visitors/continuation": {
        "post": operation(
            "Hand over a visitor's HttpOnly cookies (the site's own server calls this)\n\nThe snippet passes "
            "the visitor's token to an endpoint of the site (same origin, so the browser sends the HttpOnly "
            "cookies); that endpoint calls this with the cookies, which seed the visitor's next session.",
            VISITORS_WATCH, {"200": answer("how many cookies were kept", {
                "type": "object", "required": ["cookies"], "properties": {"cookies": {"type": "integer"}}})},
            refusals=(400, 404), operationId="continueVisitor",
            requestBody=json_body({"type": "object", "required": ["visitor_token"],
                                   "properties": {"visitor_token": {"type": "string"},
                                                  "cookies": {"type": "array", "items": _COOKIE}}})),
    },
}
