"""The composition root: one ``web.Application`` holding the config, store, service,
upstream client and runtime asset under typed keys; resources opened and closed in
``cleanup_ctx``; host dispatch in front of the control-plane routes; the security headers
added to every answer as its head is sent (``proxy.security_headers``); session expiry timers
(``proxy.ending.Expiries``) and the purge of ended ones (``proxy.purge``); the audit trail
(``proxy.audit``). Run it with ``proxy.serving.make_runner``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from proxy import (
    api_auth,
    api_participants,
    api_sessions,
    audit_api,
    control,
    join,
    openapi,
    pin,
    security_headers,
    syncws,
    timeline_api,
)
from proxy.api_errors import api_problems
from proxy.audit import audit_ctx, audit_sink
from proxy.config import Config
from proxy.ending import EXPIRIES, Expiries, expiries_ctx
from proxy.handler import host_dispatch
from proxy.handler import install as install_proxy_route
from proxy.health import install_ops
from proxy.integrations import install as install_integrations
from proxy.keys import AUDIT, CONFIG, RESPONSES, RUNTIME, SCRIPTS, SERVICE, SHARED, STORE, SYNC, TARGETS, UPSTREAM
from proxy.presence import PRESENCE, Presence
from proxy.purge import purge_ctx
from proxy.relay_rooms import RelayRooms
from proxy.runtime_asset import RuntimeAsset
from proxy.runtime_serve import routes as runtime_routes
from proxy.store_down import store_down
from proxy.stores import shared_for
from proxy.synchub import SyncHub
from proxy.targets import server_policy
from proxy.upstream import UpstreamClient, UpstreamSettings
from proxy.visitor_app import install as install_visitors
from rewriter.js_cache import ScriptCache
from sessions.credentials import Signer
from sessions.responses import ResponseLimits, ResponseRegistry
from sessions.service import Lifetimes, SessionService
from sessions.store import MemoryStore, SessionStore


def upstream_settings(config: Config) -> UpstreamSettings:
    return UpstreamSettings(
        allow_private=config.private_targets_allowed,
        allowed_networks=config.allowed_networks,
        resolve_overrides=config.resolve_overrides,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        total_deadline=config.total_deadline,
        max_rewrite_body=config.max_rewrite_body,
        max_ws_message=config.max_ws_message,
    )


def build_app(config: Config, store: SessionStore | None = None) -> web.Application:
    # store_down first: the proxy's hosts and the control plane both pass through it.
    app = web.Application(middlewares=[store_down, host_dispatch, api_problems],
                          client_max_size=config.max_request_body)
    app[CONFIG] = config
    app[STORE] = store if store is not None else MemoryStore()
    app[SHARED] = shared_for(app[STORE])
    app[SERVICE] = SessionService(app[STORE], Signer(config.secret_key),
                                  Lifetimes(config.session_lifetime, config.ticket_lifetime),
                                  max_followers=config.max_followers)
    app[RUNTIME] = RuntimeAsset.load(config.control_origin)
    app[SCRIPTS] = ScriptCache()
    app[TARGETS] = server_policy(config)
    app[RESPONSES] = ResponseRegistry(app[SHARED], ResponseLimits(config.share_max_response, config.share_budget))
    app[SYNC] = SyncHub(RelayRooms(app[SHARED]))
    app[AUDIT] = audit_sink(config)
    install_ops(app)  # /metrics (fed by the trail's records and events), /livez, /readyz
    app.add_routes(control.routes)
    app.add_routes(runtime_routes)  # the injected runtime, one cached URL for every proxied page
    app.add_routes(api_sessions.routes)
    app.add_routes(join.routes)
    app.add_routes(api_participants.routes)
    app.add_routes(pin.routes)
    app[pin.PINS] = pin.pins(config, app[SHARED])
    app.add_routes(audit_api.routes)
    app.add_routes(timeline_api.routes)
    app.add_routes(openapi.routes)
    install_visitors(app)  # the visitor snippet, its endpoints and watch links (proxy.visitor_app)
    install_proxy_route(app)  # every proxy host resolves to a route: aiohttp keeps its middleware chain
    api_auth.install(app)  # API keys and rate limits
    app[EXPIRIES] = Expiries(app)
    app[PRESENCE] = Presence(app)
    app.on_response_prepare.append(security_headers.preparer(config))
    app.cleanup_ctx.append(audit_ctx)  # first in, last out: every other cleanup may still note events
    app.cleanup_ctx.append(_upstream_ctx)
    app.cleanup_ctx.append(syncws.heartbeat_ctx)  # after the shared state's opening, before its closing
    app.cleanup_ctx.append(expiries_ctx)  # timers of every process's sessions (proxy.ending), on the shared state
    app.cleanup_ctx.append(purge_ctx)  # ended sessions forgotten after their retention (proxy.purge)
    install_integrations(app)  # after the upstream client: its deliverer copies the client's settings
    app.on_shutdown.append(_close_sync_sockets)
    return app


async def _close_sync_sockets(app: web.Application) -> None:
    # Open sync sockets would hold shutdown up: tell them to go (1001) before the runner waits.
    app[EXPIRIES].close()
    app[PRESENCE].close()
    app[SYNC].shutdown()


async def _upstream_ctx(app: web.Application) -> AsyncIterator[None]:
    client = UpstreamClient(upstream_settings(app[CONFIG]))
    await client.start()
    app[UPSTREAM] = client
    yield
    await client.close()
    await app[SHARED].close()
    await app[STORE].close()
