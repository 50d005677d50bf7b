"""``/__cb/sync``: the sync WebSocket endpoint, the I/O shell around ``sessions.relay``.

Admission happens before the upgrade: the request has passed ``proxy.visit.admit`` (a valid
participant credential for the session in the host, session live), and its ``Origin`` must
be a proxy origin of the same session (a page of another session or of the real web cannot
open it), else 403; and the participant must hold fewer than ``SOCKETS_PER_PARTICIPANT`` sync
sockets in the session, else 429 (the socket is reserved before the upgrade, so concurrent
handshakes cannot slip past the cap). Then, per frame: size cap (aiohttp closes with 1009 past 64 KiB), rate
cap (token bucket, close 1008), parse and check every field (``sessions.protocol``, close
1007/1008; URL fields must map into this session's proxy space: ``protocol.in_space``),
and the relay decides what to send. Sending happens only in the socket's writer task (see
``proxy.synchub``), which keeps every socket's frames in relay order.

Every relay event goes through ``proxy.synchub.SyncHub`` (the relay lives in the shared state);
if that state cannot be reached, the socket closes with 1013 (try again): the runtime shows that
it is reconnecting, and reconnects. The relay's decisions with effects outside it are carried
out here: a control change is persisted in the session (``Session.controller``: the fetch-once
path reads the driver from it) and the leader's ``end`` ends the session like ``DELETE /api/v1/sessions/{id}``.

Logs carry session, participant and connection ids, never message contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from proxy import audit
from proxy.ending import EXPIRIES, end_session
from proxy.keys import CONFIG, STORE, SYNC
from proxy.pages import error_page
from proxy.presence import PRESENCE
from proxy.synchub import SOCKETS_PER_PARTICIPANT, UNAVAILABLE, CloseFrame, Outbox
from proxy.visit import Visit
from rewriter.space import parse_proxy_host
from sessions.model import Session
from sessions.protocol import (
    CLOSE_POLICY,
    MAX_MESSAGE_BYTES,
    ProtocolError,
    TokenBucket,
    UrlCheck,
    in_space,
    parse,
)
from sessions.relay import Member, Outcome, Relay

log = logging.getLogger("cobrowse.sync")
ACK_IDLE_SECONDS = 0.25
HEARTBEAT_SECONDS = 25.0
WRITER_GRACE_SECONDS = 5.0
# Binary frames are not part of the protocol.
CLOSE_UNSUPPORTED = 1003
# The shared state (``sessions.shared``) cannot be reached: the page reconnects.
CLOSE_TRY_AGAIN = 1013


def origin_allowed(request: web.Request, visit: Visit) -> bool:
    """Whether the handshake's ``Origin`` is a proxy origin of the visit's own session."""
    origin = request.headers.get("Origin", "")
    parts = urlsplit(origin)
    config = request.app[CONFIG]
    if parts.scheme != config.public_scheme or not parts.netloc:
        return False
    parsed = parse_proxy_host(parts.netloc, config.domain)
    if parsed is None or parsed[1] != visit.session.id:
        return False
    real = visit.space.origin_for_host(parts.netloc)
    return real is not None and visit.space.proxy_origin(real) == origin.rstrip("/").lower()


def _is_upgrade(request: web.Request) -> bool:
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("Connection", "").lower())


async def sync_socket(request: web.Request, visit: Visit) -> web.StreamResponse:
    if not _is_upgrade(request):
        return web.Response(status=426, text="the sync endpoint speaks WebSocket only",
                            headers={"Upgrade": "websocket"})
    session, participant = visit.session, visit.participant
    if not origin_allowed(request, visit):
        log.warning("sync.refused session=%s participant=%s reason=origin", session.id, participant.id)
        return error_page(403, "Foreign origin", "The sync channel only accepts pages of this session.")
    hub = request.app[SYNC]
    roster = [Member(p.id, p.role, p.name) for p in session.participants.values() if p.admitted]
    member = Member(participant.id, participant.role, participant.name)
    try:
        attached = await hub.attach(session, member, str(visit.origin), roster)
    except UNAVAILABLE:
        log.warning("sync.refused session=%s participant=%s reason=store", session.id, participant.id)
        return error_page(503, "Try again", "The session's shared state cannot be reached just now.")
    if attached is None:
        log.warning("sync.refused session=%s participant=%s reason=sockets", session.id, participant.id)
        return error_page(429, "Too many sync connections",
                          f"This participant already holds {SOCKETS_PER_PARTICIPANT} sync connections.")
    conn_id, outbox = attached
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=HEARTBEAT_SECONDS)
    try:
        await ws.prepare(request)
    except BaseException:
        await hub.close(session, conn_id)
        raise
    log.info("sync.open session=%s participant=%s conn=%s", session.id, participant.id, conn_id)
    request.app[PRESENCE].opened(session.id, participant)
    writer = asyncio.ensure_future(_write(ws, outbox))
    try:
        await _read(request, ws, session, conn_id, outbox, in_space(visit.space))
    except UNAVAILABLE as exc:
        log.warning("sync.unavailable session=%s conn=%s error=%s", session.id, conn_id, exc)
        outbox.put(CloseFrame(CLOSE_TRY_AGAIN, "shared state unavailable"))
    finally:
        relay = await hub.close(session, conn_id)
        still_open = relay.conns_of(participant.id) > 0 if relay is not None else hub.holds(session.id, participant.id)
        request.app[PRESENCE].closed(session.id, participant.id, still_open=still_open)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(writer, WRITER_GRACE_SECONDS)
        writer.cancel()
        await ws.close()
        log.info("sync.close session=%s participant=%s conn=%s code=%s",
                 session.id, participant.id, conn_id, ws.close_code)
    return ws


async def _read(request: web.Request, ws: web.WebSocketResponse, session: Session, conn_id: str,
                outbox: Outbox, url_ok: UrlCheck) -> None:
    hub = request.app[SYNC]
    bucket = TokenBucket()
    pending = False  # received since the last idle ack
    while not outbox.closing:
        try:
            frame = await ws.receive(timeout=ACK_IDLE_SECONDS)
        except TimeoutError:
            await hub.idle(session, conn_id, pending)
            pending = False
            continue
        if frame.type == aiohttp.WSMsgType.BINARY:
            outbox.put(CloseFrame(CLOSE_UNSUPPORTED, "text frames only"))
            return
        if frame.type != aiohttp.WSMsgType.TEXT:
            outbox.put(CloseFrame(0, ""))  # already closed (or closing): only stop the writer
            return
        if not bucket.allow(time.monotonic()):
            _refuse(session.id, conn_id, outbox, CLOSE_POLICY, "rate limit")
            return
        try:
            message = parse(frame.data, url_ok)
        except ProtocolError as exc:
            _refuse(session.id, conn_id, outbox, exc.code, exc.reason)
            return
        request.app[EXPIRIES].touch(session.id)  # activity: the session is not idle
        outcome, relay = await hub.receive(session, conn_id, message)
        pending = True
        if relay is not None:
            await carry_out(request, relay, outcome, outbox.participant)


def _refuse(session_id: str, conn_id: str, outbox: Outbox, code: int, reason: str) -> None:
    log.warning("sync.violation session=%s conn=%s code=%d reason=%s", session_id, conn_id, code, reason)
    outbox.put(CloseFrame(code, reason))


async def carry_out(request: web.Request, relay: Relay, outcome: Outcome, sender: str) -> None:
    """The relay's decisions that reach beyond the sockets: persist control, end the session
    (also for the outcomes of the REST API's ``give`` and ``remove``, ``proxy.api_participants``).
    ``relay``: the relay just after the event."""
    sid = relay.session_id
    if outcome.controller is not None:
        # Persist the relay's current value, not the outcome's: two changes in a row stay in order.
        await request.app[STORE].update(sid, lambda s: setattr(s, "controller", relay.controller))
        log.info("sync.control session=%s controller=%s", sid, relay.controller)
        audit.event(request.app, sid, relay.controller, "control", controller=relay.controller,
                    action=outcome.control_action, by=outcome.control_by)
    elif outcome.control_action:  # asked or declined: control stays where it is
        audit.event(request.app, sid, outcome.control_by, "control", controller=relay.controller,
                    action=outcome.control_action, by=outcome.control_by)
    if outcome.masked:
        hub = request.app[SYNC]
        if await hub.note_masked(sid, frozenset(outcome.masked)):
            audit.event(request.app, sid, sender, "privacy", names=",".join(sorted(hub.masked_names(sid))))
    if outcome.end:
        await end_session(request.app, sid, time.time(), by="leader")


async def heartbeat_ctx(app: web.Application) -> AsyncIterator[None]:
    """This process's heartbeat in the shared state (``proxy.relay_rooms``), and its ear for the
    sessions' masked-field names (``proxy.masked_names``), while it serves."""
    hub = app[SYNC]
    await hub.rooms.start()
    await hub.masked.start()
    yield
    await hub.masked.stop()
    await hub.rooms.stop()


async def _write(ws: web.WebSocketResponse, outbox: Outbox) -> None:
    while True:
        item = await outbox.get()
        if isinstance(item, CloseFrame):
            if item.code and not ws.closed:
                await ws.close(code=item.code, message=item.reason.encode("utf-8"))
            return
        if ws.closed:
            return
        try:
            await ws.send_str(item)
        except ConnectionError:
            return
