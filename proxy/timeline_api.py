"""A session's story at a glance: ``GET /api/v1/sessions/{id}/timeline`` and the page that draws it.

- ``GET /api/v1/sessions/{id}/timeline`` (API key): the session's audit trail folded by
  ``sessions.timeline.Timeline`` (participants' presence, control, navigations, traffic by path
  over time, errors, events). The trail is read in batches, each opened in a worker thread (as
  the audit export does), so memory is bounded by a batch plus the timeline's own bounds. A
  chain broken part-way gives the timeline up to the break and ``broken`` naming where; 404
  when the server keeps no trail or has none for the session.
- ``GET /timeline`` and ``GET /timeline/{id}``: the console's timeline page
  (``static/timeline.html``; strict CSP, its script allowed by hash; it asks the API with the
  key the console keeps in the tab's sessionStorage).
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from typing import Any

from aiohttp import web

from proxy.api_auth import AUDIT_READ, caller
from proxy.audit_api import read_batch, trail_sink
from proxy.keys import STORE
from proxy.openapi_parts import answer, operation, path_param, query_param
from proxy.pages import json_error
from proxy.security_headers import page_headers
from sessions.audit_chain import Broken, ChainReader
from sessions.audit_record import decode
from sessions.timeline import Timeline

MAX_BUCKETS = 1000
routes = web.RouteTableDef()


@routes.get("/api/v1/sessions/{sid}/timeline")
async def timeline(request: web.Request) -> web.Response:
    who = await caller(request, AUDIT_READ)
    if isinstance(who, web.Response):
        return who
    try:
        buckets = int(request.query.get("buckets", "60"))
    except ValueError:
        buckets = 0
    if not 1 <= buckets <= MAX_BUCKETS:
        return json_error(400, f'"buckets" must be a whole number from 1 to {MAX_BUCKETS}')
    sid = request.match_info["sid"]
    sink = trail_sink(request.app, sid)
    if isinstance(sink, web.Response):
        return sink
    reader, folded, broken, seen = ChainReader(sink.keyring, sid), Timeline(), "", False
    lines = sink.store.read(sid)
    while batch := await read_batch(lines):
        seen = True
        try:
            await asyncio.to_thread(_fold, reader, batch, folded)
        except Broken as exc:
            broken = str(exc)
            break
    if not seen:
        return json_error(404, f"no audit trail for session {sid}")
    session = await request.app[STORE].get(sid)
    now = time.time()
    live = session is not None and session.is_live(now)
    body = folded.result(now if live else None, buckets)
    body.update({"session": sid, "live": live, "broken": broken})
    return web.json_response(body)


def _fold(reader: ChainReader, batch: list[bytes], into: Timeline) -> None:
    for opened in reader.read(batch):
        into.add(decode(opened.plaintext))


@routes.get("/timeline")
@routes.get("/timeline/{sid}")
async def timeline_page(request: web.Request) -> web.Response:
    page = resources.files("static").joinpath("timeline.html").read_text("utf-8")
    return web.Response(text=page, content_type="text/html",
                        headers={"Cache-Control": "no-store", **page_headers(page, connect="'self'")})


# The OpenAPI description of this module's API route (proxy.openapi joins it into /api/v1/openapi.json).
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/sessions/{sid}/timeline": {
        "get": operation(
            "A session's story from its audit trail: presence, control, navigations, traffic", AUDIT_READ,
            {"200": answer("the timeline", {"type": "object",
                                            "required": ["session", "live", "broken", "participants", "traffic"],
                                            "properties": {"session": {"type": "string"},
                                                           "live": {"type": "boolean"},
                                                           "broken": {"type": "string"}}})},
            refusals=(400, 404), operationId="getTimeline",
            parameters=[path_param("sid", "the session's id"),
                        query_param("buckets", f"traffic buckets, 1 to {MAX_BUCKETS} (default 60)",
                                    {"type": "integer", "minimum": 1, "maximum": MAX_BUCKETS})]),
    },
}
