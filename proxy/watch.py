"""The agent's side of a watch link, on the control plane.

- ``GET /watch/{token}`` opens the link (``proxy.visitor_book.VisitorBook.open_link``: once,
  before it expires). The browser that opened it gets the watch's secret in an HttpOnly cookie
  (``WATCH_COOKIE``, path ``/watch``) and goes on to ``/watch``. A link expired or used sends
  the agent to its ``branding.retry_url`` when it has one, else to a page saying so.
- ``GET /watch`` the waiting page: "waiting for the visitor to accept", kept up to date by its
  one script (allowed by hash) from ``/watch/state``.
- ``GET /watch/state`` -> ``{"state": "waiting" | "declined" | "ready" | "gone", "enter_url"?}``,
  held up to ``Visitors.poll_seconds`` while nothing changes (answered at once when the server
  stops). ``ready``: the visitor's session is live and ``enter_url`` takes this browser in as
  the session's leader (a fresh single-use ticket), landing on the page the visitor drives. No
  further authorization: the link was the proof.
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy.control import enter_url
from proxy.keys import CONFIG, SERVICE, STORE, SYNC
from proxy.pages import error_page
from proxy.security_headers import page_headers
from proxy.visitors import VISITORS, live_session
from sessions.model import Session
from sessions.service import AdmissionError
from sessions.visitors import LINK_LIFETIME, Agent, LinkRefused

WATCH_COOKIE = "cb_watch"
routes = web.RouteTableDef()
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_REFUSALS = {
    "unknown": ("Not a watch link", "This watch link is not valid. Ask for a new one."),
    "used": ("Watch link already used", "This watch link has been opened already. Ask for a new one."),
    "expired": ("Watch link expired", "This watch link has expired. Ask for a new one."),
}


@routes.get("/watch/{token}")
async def open_watch(request: web.Request) -> web.StreamResponse:
    visitors = request.app[VISITORS]
    try:
        watch, secret = await visitors.registry.open_link(request.match_info["token"], time.time())
    except LinkRefused as refused:
        if refused.branding.retry_url and refused.reason != "unknown":
            return web.Response(status=303, headers={**_NO_STORE, "Location": refused.branding.retry_url})
        title, message = _REFUSALS[refused.reason]
        return error_page(410 if refused.reason != "unknown" else 404, title, message)
    await visitors.notify(watch.short_id)  # the snippet's long poll asks the visitor now
    response = web.Response(status=303, headers={**_NO_STORE, "Location": "/watch"})
    config = request.app[CONFIG]
    response.set_cookie(WATCH_COOKIE, secret, path="/watch", max_age=int(LINK_LIFETIME), httponly=True,
                        samesite="Lax", secure=config.public_scheme == "https")
    return response


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Waiting for the visitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}</style></head>
<body><h1 id="title">Waiting for the visitor to accept</h1>
<p id="status" role="status">The visitor has been asked to share their page with you.</p>
<script>
(function () {
  var texts = {
    declined: ['The visitor declined',
      'The visitor did not want to share their page. Ask for a new link to try again.'],
    gone: ['This watch has ended', 'The visitor left or the link expired. Ask for a new link.']
  };
  function show(state) {
    document.getElementById('title').textContent = texts[state][0];
    document.getElementById('status').textContent = texts[state][1];
  }
  function poll() {
    fetch('/watch/state', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === 'ready') { location.replace(s.enter_url); return; }
        if (texts[s.state]) { show(s.state); return; }
        poll();
      }, function () { setTimeout(poll, 2000); });
  }
  poll();
})();
</script></body></html>
"""


@routes.get("/watch")
async def waiting_page(request: web.Request) -> web.Response:
    if await request.app[VISITORS].registry.watch(request.cookies.get(WATCH_COOKIE, ""), time.time()) is None:
        return error_page(404, "No watch here", "This browser has not opened a watch link (or it expired). "
                                                "Open the link you were given.")
    return web.Response(text=_PAGE, content_type="text/html",
                        headers={**_NO_STORE, **page_headers(_PAGE, connect="'self'")})


@routes.get("/watch/state")
async def watch_state(request: web.Request) -> web.Response:
    visitors = request.app[VISITORS]
    secret = request.cookies.get(WATCH_COOKIE, "")
    deadline = time.monotonic() + visitors.poll_seconds
    while True:
        watch = await visitors.registry.watch(secret, time.time())
        changed = visitors.expect(watch.short_id) if watch is not None else None  # before the state is read
        state = await _state(request, secret)
        if state != "waiting" or watch is None or time.monotonic() >= deadline:
            break
        if not await visitors.wait(watch.short_id, deadline - time.monotonic(), changed):
            break
    body: dict[str, str] = {"state": state}
    if state == "ready":
        entered = await _leader_entry(request, secret)
        body = {"state": "gone"} if entered is None else {"state": "ready", "enter_url": entered}
    return web.json_response(body, headers=_NO_STORE)


async def _state(request: web.Request, secret: str) -> str:
    registry = request.app[VISITORS].registry
    now = time.time()
    watch = await registry.watch(secret, now)
    visitor = await registry.get(watch.short_id, now) if watch is not None else None
    if watch is None or visitor is None:
        return "gone"
    if watch.session_id:
        return "ready"
    if visitor.declined:
        return "declined"
    return "waiting"


async def _leader_entry(request: web.Request, secret: str) -> str | None:
    """A fresh leader ticket's URL for the watched session, landing where the visitor is."""
    now = time.time()
    registry = request.app[VISITORS].registry
    watch = await registry.watch(secret, now)
    visitor = await registry.get(watch.short_id, now) if watch is not None else None
    session = await live_session(request.app, visitor, now) if visitor is not None else None
    if watch is None or session is None or session.id != watch.session_id:
        return None
    if watch.agent != Agent():
        await request.app[STORE].update(session.id, lambda s: _name_placeholder(s, watch.agent))
    here = await request.app[SYNC].current_url(session.id) or session.target_url
    try:
        ticket = await request.app[SERVICE].issue_ticket(session.id, session.leader_id, here, now)
    except AdmissionError:
        return None
    return enter_url(request.app[CONFIG], session.id, ticket)


def _name_placeholder(session: Session, agent: Agent) -> None:
    """A session the visitor started alone has a placeholder leader ("Agent", no id): the first
    agent to come in through a watch link gives it their name."""
    leader = session.participants.get(session.leader_id)
    if leader is not None and (leader.name, leader.external_id) == (Agent().name, Agent().id):
        leader.name, leader.external_id = agent.name, agent.id
