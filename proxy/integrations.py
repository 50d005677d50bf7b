"""Integration events wired into the app: the event bus, the webhooks and their deliverer, the
webhooks API and the event stream (docs/webhooks.md).

``install(app)`` is the one call the composition root makes. The bus (``proxy.keys.EVENTS``)
exists from the start, so events noted before start-up are kept for the dispatcher; the
webhook state (``proxy.keys.HOOKS``) is in the shared state, so every process delivers to every
webhook and one at a time sends each queue. In ``cleanup_ctx``:
the deliverer's own guarded client (the upstream client's settings, the SSRF guard included,
with the delivery timeout) is started and the dispatcher begins; at the end the dispatcher
finishes what is queued into the webhooks' queues, then the workers and the client stop.
On shutdown, before the runner waits for handlers, every event stream is ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from aiohttp import web

from proxy import events_api, webhook_delivery, webhooks
from proxy.events import EventBus
from proxy.keys import EVENTS, HOOKS, SHARED, STORE, UPSTREAM
from proxy.upstream import UpstreamClient
from proxy.webhook_delivery import Deliverer
from sessions.webhook_state import SharedWebhookStore

DELIVERY_POOL = 20  # connections to receivers at once (one worker per webhook sends one at a time)


def install(app: web.Application) -> None:
    app[EVENTS] = EventBus(app[STORE], app[SHARED])
    app[HOOKS] = SharedWebhookStore(app[SHARED])
    app.add_routes(webhooks.routes)
    app.add_routes(events_api.routes)
    app.cleanup_ctx.append(_ctx)
    app.on_shutdown.append(_end_streams)


async def _ctx(app: web.Application) -> AsyncIterator[None]:
    settings = webhook_delivery.DEFAULTS
    upstream = app[UPSTREAM].settings
    client = UpstreamClient(dataclasses.replace(upstream, total_deadline=settings.timeout,
                                                read_timeout=min(upstream.read_timeout, settings.timeout),
                                                pool_limit=DELIVERY_POOL))
    await client.start()
    deliverer = Deliverer(app[HOOKS], app[SHARED], client, settings)
    bus = app[EVENTS]
    bus.add_sink(deliverer.offer)
    deliverer.start()
    await bus.start()
    yield
    await bus.close()
    await deliverer.close()
    await client.close()
    await app[HOOKS].close()


async def _end_streams(app: web.Application) -> None:
    app[EVENTS].close_streams()
