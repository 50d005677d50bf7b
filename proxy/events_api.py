"""``GET /api/v1/events``: the integration events of the calling key's sessions as server-sent
events, for dashboards (scope ``sessions:read``).

Each event is one SSE message: ``id:`` the event id, ``event:`` its type, ``data:`` the same JSON
a webhook receives (``sessions.integration_events.Event``). A client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` sends it by itself; ``?last_event_id=`` does the same
for clients that cannot set headers) first gets the buffered events after that id, then live ones;
when events after it have already left the bounded buffer, a ``gap`` message comes first (reload
the state from the REST API). A comment line every ``HEARTBEAT`` seconds keeps proxies from
timing the stream out and tells the server a client has gone. Only a client that asks for
``Accept: text/event-stream`` (as ``EventSource`` does) gets a stream that stays open; any other
gets the buffered events after its last id and the end (a poll). The stream ends when the server
shuts down, or when the client reads too slowly to keep up (``proxy.events.BusLimits.stream``
unread events): either way the client reconnects with its last id and loses nothing the buffer
still holds. Nothing a stream sends is a link, ticket or cookie.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from proxy.api_auth import SESSIONS_READ, caller
from proxy.keys import EVENTS
from proxy.openapi_parts import operation, query_param
from proxy.problems import problem
from sessions.integration_events import EVENT_TYPES, Event

HEARTBEAT = 15.0
RETRY_MS = 3000
EVENT_ID = re.compile(r"evt_[0-9a-f]{26}")
routes = web.RouteTableDef()


def message(event: Event) -> bytes:
    data = json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    who = await caller(request, SESSIONS_READ)
    if isinstance(who, web.Response):
        return who
    after = request.headers.get("Last-Event-ID", "") or request.query.get("last_event_id", "")
    if after and not EVENT_ID.fullmatch(after):
        return problem(400, "Last-Event-ID must be the id of an event this server sent (evt_ and 26 hex digits)")
    follows = "text/event-stream" in request.headers.get("Accept", "")
    bus = request.app[EVENTS]
    listening = await bus.listen(who.key_id, after)
    try:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n: events of this key's sessions\n\n".encode())
        if listening.gap:
            await response.write(f"event: gap\ndata: {json.dumps({'after': after})}\n\n".encode())
        for old in listening.backlog:
            await response.write(message(old))
        while follows:
            event = await listening.stream.next(HEARTBEAT)
            if event is not None:
                await response.write(message(event))
            elif listening.stream.ended:
                break
            else:
                await response.write(b": heartbeat\n\n")
    except ConnectionResetError:
        pass  # the client went away (noticed at a write)
    finally:
        bus.unlisten(listening.stream)
    return response


_ID_PATTERN = {"type": "string", "pattern": "^evt_[0-9a-f]{26}$"}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/events": {
        "get": operation(
            "Server-sent events of this key's sessions\n\n"
            "Each message: `id` (the event id), `event` (its type: " + ", ".join(EVENT_TYPES) + "), `data` (the "
            f"event's JSON, as webhooks receive it). A heartbeat comment every {HEARTBEAT:g} s; a `gap` message "
            "first when events after Last-Event-ID have left the server's buffer. The stream stays open only for "
            "a client that sends `Accept: text/event-stream` (as EventSource does); any other gets the buffered "
            "events after Last-Event-ID, then the end.",
            SESSIONS_READ,
            {"200": {"description": "the stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
            refusals=(400,), operationId="streamEvents", tags=["events"],
            parameters=[
                {"name": "Last-Event-ID", "in": "header", "required": False, "schema": _ID_PATTERN,
                 "description": "resume after this event"},
                query_param("last_event_id", "resume after this event (for clients that cannot set headers)",
                            _ID_PATTERN)]),
    },
}
