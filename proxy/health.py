"""The operator's endpoints on the control plane: ``/livez``, ``/readyz`` and ``/metrics``
(``/healthz``, the audit counters, stays in ``proxy.control``). None needs a key: they say how
the process is, never anything about a session.

- ``GET /livez``: 200 while the process serves requests at all (a supervisor restarts it when
  this stops answering).
- ``GET /readyz``: 200 when this node should get traffic; 503 with the reasons otherwise (a load
  balancer takes it out): the server is stopping (``proxy.serving.STOPPING``), the session store
  did not answer a read within ``STORE_PROBE_SECONDS`` (or failed), or the audit writer's queue
  is past ``AUDIT_FULL`` of its capacity (records would be dropped next).
- ``GET /metrics``: the Prometheus text exposition of ``proxy.metrics.Metrics``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.keys import AUDIT, METRICS, OPEN_SOCKETS, STORE, SYNC
from proxy.metrics import Metrics
from proxy.open_sockets import OpenSockets
from proxy.serving import STOPPING

STORE_PROBE_SECONDS = 2.0
AUDIT_FULL = 0.9
PROBE_ID = "readyz-probe"  # never a session id (ids are random tokens): the read finds nothing

routes = web.RouteTableDef()


def install_ops(app: web.Application) -> None:
    """The app's metrics (reading the sync hub's and the audit writer's counters when scraped),
    its stopping flag, the relayed WebSockets to close at shutdown (``proxy.open_sockets``) and
    these routes. Called by ``build_app`` once ``SYNC`` and ``AUDIT`` are in place."""
    app[METRICS] = Metrics(app[SYNC].counts, app[AUDIT].counters)
    app[STOPPING] = asyncio.Event()  # set by proxy.serving.serve_until_stopped
    app[OPEN_SOCKETS] = OpenSockets()
    app.on_shutdown.append(_close_open_sockets)
    app.add_routes(routes)


async def _close_open_sockets(app: web.Application) -> None:
    await app[OPEN_SOCKETS].close_all()


@routes.get("/livez")
async def livez(request: web.Request) -> web.Response:
    return web.json_response({"ok": True}, headers={"Cache-Control": "no-store"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    reasons = [*_stopping(request.app), *await _store(request.app), *_audit(request.app[AUDIT].counters())]
    body = {"ready": not reasons, "reasons": reasons}
    return web.json_response(body, status=503 if reasons else 200, headers={"Cache-Control": "no-store"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].text(), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                                   "Cache-Control": "no-store"})


def _stopping(app: web.Application) -> list[str]:
    return ["stopping: the server is shutting down"] if app[STOPPING].is_set() else []


async def _store(app: web.Application) -> list[str]:
    try:
        async with asyncio.timeout(STORE_PROBE_SECONDS):
            await app[STORE].get(PROBE_ID)
    except TimeoutError:
        return [f"store: no answer within {STORE_PROBE_SECONDS:g} s"]
    except Exception as exc:  # a store that cannot be reached raises its client's error
        return [f"store: {type(exc).__name__}"]
    return []


def _audit(counters: dict[str, Any]) -> list[str]:
    if not counters.get("enabled"):
        return []
    queued, capacity = int(counters.get("queued", 0)), int(counters.get("capacity", 0))
    if capacity and queued >= AUDIT_FULL * capacity:
        return [f"audit: {queued} of {capacity} records waiting for the disk"]
    return []
