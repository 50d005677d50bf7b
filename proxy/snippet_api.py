"""The visitor snippet's endpoints: ``/snippet.js`` and ``/snippet/v1/<action>``.

An integrator puts one tag on their site (``docs/snippet.md``)::

    <script src="https://<control>/snippet.js" data-site-key="cbsk_..." async></script>

The snippet (``static/snippet.js``) sends ``POST /snippet/v1/<action>`` with a ``text/plain``
JSON body (a CORS "simple" request: no preflight), the site key in the body. Every action checks
the site key (``proxy.api_auth.site_key``: a publishable key, never an API key) AND the
``Origin`` header against the key's origins; only then does the answer carry
``Access-Control-Allow-Origin``, for that one origin and without credentials (the visitor's
token, which the snippet keeps in the site's own storage, is the visitor's proof).

- ``visitor``  ``{key, token?, url, consent?}`` -> ``{short_id, token, session}``: register, or
  resume the visitor the token names (``consent: false``: the site asks no consent);
- ``poll``     ``{key, token}`` -> ``{request: {agent} | null, session}``, held up to
  ``Visitors.poll_seconds`` (25 s) until something changes for the visitor (an agent opened a
  watch link, its session started or stopped in another tab) or the server stops;
- ``start``    ``{key, token, url, cookies, storage: {local, session}, form}`` ->
  ``{enter_url}``: the visitor said yes (or called ``startSession``): its session starts at
  ``url`` with its state (``proxy.visitors.start_for_visitor``);
- ``decline``  ``{key, token}``; ``stop`` ``{key, token}`` ends the visitor's live session;
- ``watch-link`` ``{key, token}`` -> ``{watch_url, expires_at}`` (``Cobrowse('getWatchLink')``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from proxy.api_auth import SiteKey, site_key
from proxy.ending import end_session
from proxy.problems import problem
from proxy.seeding import SessionSeed, read_seed
from proxy.visitors import VISITORS, live_session, start_for_visitor, watch_link
from rewriter.origins import Origin
from sessions.branding import Branding
from sessions.seed import MAX_COOKIES, SeedCookie
from sessions.visitors import Agent, Visitor

MAX_SNIPPET_BODY = 768 * 1024  # the storage cap (sessions.seed) with room for cookies and a form
routes = web.RouteTableDef()


@routes.get("/snippet.js")
async def snippet_js(request: web.Request) -> web.Response:
    body = resources.files("static").joinpath("snippet.js").read_bytes()
    return web.Response(body=body, content_type="application/javascript", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300",
                                 "Cross-Origin-Resource-Policy": "cross-origin"})


@dataclass(frozen=True, slots=True)
class Caller:
    key: SiteKey
    origin: str
    body: dict[str, Any]


def _cors(response: web.Response, origin: str) -> web.Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    return response


def _answer(origin: str, body: dict[str, Any]) -> web.Response:
    return _cors(web.json_response(body, headers={"Cache-Control": "no-store"}), origin)


async def _caller(request: web.Request) -> Caller | web.Response:
    """The site key and origin of a snippet request, or the refusal (without CORS headers when
    the origin is not the key's: the page then learns nothing from the answer)."""
    origin = request.headers.get("Origin", "")
    raw = await request.content.read(MAX_SNIPPET_BODY + 1)
    if len(raw) > MAX_SNIPPET_BODY:
        return problem(413, f"request body larger than {MAX_SNIPPET_BODY} bytes")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return problem(400, 'the body must be a JSON object with the site key in "key"')
    key = site_key(request.app, str(body.get("key", "")))
    if key is None:
        return problem(401, "unknown or revoked site key: copy data-site-key from `cobrowse keys create NAME --site`")
    if not origin or not key.allows(origin):
        return problem(403, "this site key is not for the page's origin; make one that is: "
                            "cobrowse keys create NAME --site --origin https://your.site")
    return Caller(key, origin, body)


@routes.post("/snippet/v1/{action}")
async def snippet_action(request: web.Request) -> web.Response:
    caller = await _caller(request)
    if isinstance(caller, web.Response):
        return caller
    action = request.match_info["action"]
    if action == "visitor":
        return await _register(request, caller)
    handler = _ACTIONS.get(action)
    if handler is None:
        return _cors(problem(404, f"no snippet action {action[:40]!r}"), caller.origin)
    visitors, now = request.app[VISITORS], time.time()
    visitor = await visitors.registry.by_token(str(caller.body.get("token", "")), now)
    if visitor is None or visitor.site_key_id != caller.key.key_id or visitor.origin != caller.origin:
        return _cors(problem(404, "no such visitor (it expired): register again"), caller.origin)
    seen = await visitors.registry.seen(visitor, now)
    return await handler(request, caller, seen or visitor)


async def _register(request: web.Request, caller: Caller) -> web.Response:
    url = str(caller.body.get("url", ""))[:8192]
    if not _page_of(url, caller.origin):
        return _cors(problem(400, '"url" must be the page\'s own URL'), caller.origin)
    now = time.time()
    visitor, token = await request.app[VISITORS].registry.register(
        caller.key.key_id, caller.origin, url, now, str(caller.body.get("token", "")),
        ask_consent=caller.body.get("consent") is not False)
    live = await live_session(request.app, visitor, now)
    return _answer(caller.origin, {"short_id": visitor.short_id, "token": token, "session": live is not None})


async def _poll(request: web.Request, caller: Caller, visitor: Visitor) -> web.Response:
    visitors = request.app[VISITORS]
    changed = visitors.expect(visitor.short_id)
    pending = await visitors.registry.pending(visitor, time.time())
    if pending is None:  # held until anything changes for the visitor (a request, a session, a stop)
        await visitors.wait(visitor.short_id, visitors.poll_seconds, changed)
        visitor = await visitors.registry.get(visitor.short_id, time.time()) or visitor
        pending = await visitors.registry.pending(visitor, time.time())
    asked = None if pending is None else {"agent": pending.agent.name}
    live = await live_session(request.app, visitor, time.time())
    return _answer(caller.origin, {"request": asked, "session": live is not None})


async def _decline(request: web.Request, caller: Caller, visitor: Visitor) -> web.Response:
    await request.app[VISITORS].registry.decline(visitor)
    await request.app[VISITORS].notify(visitor.short_id)
    return _answer(caller.origin, {"declined": True})


async def _stop(request: web.Request, caller: Caller, visitor: Visitor) -> web.Response:
    if await live_session(request.app, visitor, time.time()) is not None:
        await end_session(request.app, visitor.session_id, time.time(), by="visitor")
    await request.app[VISITORS].registry.leave(visitor)
    await request.app[VISITORS].notify(visitor.short_id)
    return _answer(caller.origin, {"session": False})


async def _watch_link(request: web.Request, caller: Caller, visitor: Visitor) -> web.Response:
    url, expires = await watch_link(request.app, visitor, Agent(), Branding())
    return _answer(caller.origin, {"watch_url": url, "expires_at": expires})


async def _start(request: web.Request, caller: Caller, visitor: Visitor) -> web.Response:
    body, now = caller.body, time.time()
    if await live_session(request.app, visitor, now) is not None:
        return _cors(problem(409, "this visitor is in a co-browsing session already: stop it first"), caller.origin)
    url = str(body.get("url", ""))[:8192].split("#", 1)[0]
    if not _page_of(url, caller.origin):
        return _cors(problem(400, '"url" must be the page\'s own URL'), caller.origin)
    try:
        seed = read_seed({"storage": {caller.origin: body.get("storage") or {}}, "form": body.get("form")},
                         url, now, where="start")
    except ValueError as exc:
        return _cors(problem(400, str(exc)), caller.origin)
    cookies = (*document_cookies(str(body.get("cookies", ""))), *visitor.handoff)
    started = await start_for_visitor(request.app, visitor, url, SessionSeed(cookies, seed.page), now)
    if isinstance(started, web.Response):
        return _cors(started, caller.origin)
    return _answer(caller.origin, {"enter_url": started})


Action = Callable[[web.Request, Caller, Visitor], Awaitable[web.Response]]
_ACTIONS: dict[str, Action] = {"poll": _poll, "start": _start, "decline": _decline, "stop": _stop,
                               "watch-link": _watch_link}


def _page_of(url: str, origin: str) -> bool:
    try:
        return url.split(":", 1)[0] in ("http", "https") and str(Origin.parse(url)) == origin
    except ValueError:
        return False


def document_cookies(text: str) -> list[SeedCookie]:
    """The cookies of a ``document.cookie`` string: host-only, path "/" (all a page can tell of
    them), never HttpOnly (a page cannot see those: the continuation endpoint hands them over)."""
    found: list[SeedCookie] = []
    for pair in text[:16384].split(";"):
        name, eq, value = pair.strip().partition("=")
        if eq and name and not any(ord(c) < 0x20 or c == "\x7f" for c in name + value):
            found.append(SeedCookie(name.strip(), value.strip()))
    return found[:MAX_COOKIES]
