"""``GET /api/v1/sessions/{id}/audit?format=jsonl|har|mitmproxy``: a session's audit trail, exported.

API key required (401 without). 400 for a format not in ``proxy.audit_export.FORMATS`` (the
message lists them); 404 when the server keeps no audit trail or has none for that session (an
ended session's trail stays exportable). The body is streamed as the trail is read: the
store's lines come in batches (``BATCH``), each opened and encoded in a worker thread, so
memory is bounded by a batch and the event loop never decrypts. The bytes are those of
``cobrowse audit export`` for the same trail (one ``Export`` for both).

A broken chain found before anything was sent answers 409 naming the record (``cobrowse audit
verify`` says more); found later, the transfer is cut short (no last chunk), so a client cannot
take a partial export for a whole one. A complete export is noted in the trail as an
``exported`` event (format, records), after the records it exported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from proxy import audit
from proxy.api_auth import AUDIT_READ, caller
from proxy.audit_export import FORMATS, Export, unknown_format
from proxy.audit_writer import AuditWriter
from proxy.keys import AUDIT
from proxy.openapi_parts import operation, path_param, query_param
from proxy.pages import json_error
from sessions.audit_chain import Broken, ChainReader
from sessions.ids import is_session_id

BATCH = 1024  # trail lines opened per worker-thread call
log = logging.getLogger("cobrowse.audit")
routes = web.RouteTableDef()


class ExportCutShort(Exception):
    """The trail broke after the export's first bytes were sent."""


@routes.get("/api/v1/sessions/{sid}/audit")
async def export_audit(request: web.Request) -> web.StreamResponse:
    who = await caller(request, AUDIT_READ)
    if isinstance(who, web.Response):
        return who
    fmt = request.query.get("format", "jsonl")
    if fmt not in FORMATS:
        return json_error(400, unknown_format(fmt))
    sid = request.match_info["sid"]
    sink = trail_sink(request.app, sid)
    if isinstance(sink, web.Response):
        return sink
    lines = sink.store.read(sid)
    batch = await read_batch(lines)
    if not batch:
        return json_error(404, f"no audit trail for session {sid}")
    export = Export.of(ChainReader(sink.keyring, sid), fmt)
    chunks = [export.start()]
    try:
        await asyncio.to_thread(export.feed, batch, chunks)
    except Broken as broken:
        return json_error(409, f"the audit trail of session {sid} is broken at {broken}; "
                               "`cobrowse audit verify` names what is wrong")
    kind = FORMATS[fmt]
    response = web.StreamResponse(headers={
        "Content-Type": kind.media_type,
        "Content-Disposition": f'attachment; filename="cobrowse-{sid}.{kind.suffix}"',
    })
    await response.prepare(request)
    await response.write(b"".join(chunks))
    while batch := await read_batch(lines):
        chunks = []
        try:
            await asyncio.to_thread(export.feed, batch, chunks)
        except Broken as broken:
            await response.write(b"".join(chunks))
            log.warning("audit.export_broken session=%s format=%s at=%s", sid, fmt, broken)
            raise ExportCutShort(str(broken)) from broken
        await response.write(b"".join(chunks))
    await response.write(export.finish())
    await response.write_eof()
    audit.event(request.app, sid, "", "exported", format=fmt, records=str(export.records))
    return response


def trail_sink(app: web.Application, sid: str) -> AuditWriter | web.Response:
    """The writer that keeps ``sid``'s trail, or the 404 to answer (no trail kept, no such id)."""
    sink = app[AUDIT]
    if not isinstance(sink, AuditWriter):
        return json_error(404, "this server keeps no audit trail (it runs with --no-audit or without a data dir)")
    if not is_session_id(sid):
        return json_error(404, "no such session")
    return sink


async def read_batch(lines: AsyncIterator[bytes]) -> list[bytes]:
    out: list[bytes] = []
    while len(out) < BATCH and (line := await anext(lines, None)) is not None:
        out.append(line)
    return out


# The OpenAPI description of this module's route (proxy.openapi joins it into /api/v1/openapi.json).
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/sessions/{sid}/audit": {
        "get": operation(
            "A session's audit trail, exported (streamed; cut short if the chain breaks part-way)", AUDIT_READ,
            {"200": {"description": "the records in chain order, in the asked format",
                     "content": {kind.media_type: {"schema": {}} for kind in FORMATS.values()}}},
            refusals=(400, 404, 409), operationId="exportAudit",
            parameters=[path_param("sid", "the session's id"),
                        query_param("format", "jsonl (default), har or mitmproxy", {"enum": list(FORMATS)})]),
    },
}
