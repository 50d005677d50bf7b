"""The audit trail's wiring into the app: which sink a config gets, its lifetime, and the one
helper every handler uses to note a session event.

A server audits when ``Config.audit_enabled`` (on by default for ``cobrowse serve``, which
gives it a data directory; off for an app built without one). The sink is started and closed in
``cleanup_ctx`` (registered before the others, so it closes last: session events emitted by
the other cleanups are still written). What is recorded and when: ``proxy.audit_trace``
(HTTP exchanges through ``proxy.exchange``, CORS preflights through ``proxy.preflight``) and
``event`` (session events: created and joined in ``proxy.control``/``proxy.join``, left and
back in ``proxy.presence``, control in ``proxy.syncws``, ended in ``proxy.ending``, exported in
``proxy.audit_api``; the CLI's exports read files a running server may be appending to, so they
add nothing), target WebSockets opening and closing with their counts (``proxy.audit_ws``, from
``proxy.wsproxy``), requests the target policy refused (``policy``, naming the rule: HTTP through
``proxy.audit_trace``, WebSockets in ``proxy.wsproxy``), the session's masked-field names
(``privacy``, in ``proxy.syncws``), visitors waiting, approved and removed (``waiting`` in
``proxy.join``; ``approved``, ``removed`` and control given by the agent in ``proxy.api_participants``).
``event`` also hands every session event to the integration event bus (``proxy.events``), trail
or no trail: webhooks and the event stream are fed from here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from proxy.audit_files import DirectoryStore
from proxy.audit_keys import WatchedKeys
from proxy.audit_writer import AuditSettings, AuditSink, AuditWriter, NoAudit
from proxy.config import Config
from proxy.keys import AUDIT, EVENTS, METRICS
from proxy.upstream_errors import BlockedTarget, PolicyRefused
from sessions.audit_record import event as make_event
from sessions.audit_redaction import Redactor


def audit_sink(config: Config) -> AuditSink:
    if not config.audit_enabled:
        return NoAudit()
    return AuditWriter(DirectoryStore(config.data_dir), WatchedKeys(config.data_dir, config.audit_keys),
                       Redactor.configured(config.audit_redact_headers), AuditSettings(queue=config.audit_queue))


async def audit_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[AUDIT].start()
    yield
    await app[AUDIT].close()


def policy_refused(app: web.Application, session_id: str, participant: str, url: str, exc: BaseException) -> None:
    """A request the target policy (or the address guard) refused: a ``policy`` event naming the rule."""
    if isinstance(exc, PolicyRefused):
        event(app, session_id, participant, "policy", rule=exc.refusal.rule, reason=exc.refusal.reason, url=url)
    elif isinstance(exc, BlockedTarget):
        event(app, session_id, participant, "policy", rule="address", reason=str(exc), url=url)


def event(app: web.Application, session_id: str, participant: str, name: str, /, *, at: float | None = None,
          **detail: str) -> None:
    """Note a session event (``sessions.audit_record.EVENTS``) in its trail, as of ``at`` (now
    unless given), and publish it to integrations (``proxy.events``, whether or not the trail is
    on); never blocks."""
    when = time.time() if at is None else at
    record = make_event(when, participant, name, **detail)
    app[METRICS].event(record)
    app[AUDIT].emit(session_id, record)
    bus = app.get(EVENTS)
    if bus is not None:
        bus.publish(session_id, participant, name, when, detail)
