"""Typed application keys: the composition root's registry of shared objects."""

from __future__ import annotations

from aiohttp import web

from proxy.audit_writer import AuditSink
from proxy.config import Config
from proxy.events import EventBus
from proxy.metrics import Metrics
from proxy.open_sockets import OpenSockets
from proxy.runtime_asset import RuntimeAsset
from proxy.synchub import SyncHub
from proxy.upstream import UpstreamClient
from rewriter.js_cache import ScriptCache
from sessions.policy import TargetPolicy
from sessions.responses import ResponseRegistry
from sessions.service import SessionService
from sessions.shared import Shared
from sessions.store import SessionStore
from sessions.webhook_state import WebhookStore

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", SessionStore)
SHARED = web.AppKey("shared", Shared)  # state several processes share (sessions.shared; proxy.stores.shared_for)
SERVICE = web.AppKey("service", SessionService)
UPSTREAM = web.AppKey("upstream", UpstreamClient)
RUNTIME = web.AppKey("runtime", RuntimeAsset)
SYNC = web.AppKey("sync", SyncHub)
RESPONSES = web.AppKey("responses", ResponseRegistry)
TARGETS = web.AppKey("targets", TargetPolicy)  # the server's target policy, built once
SCRIPTS = web.AppKey("scripts", ScriptCache)  # rewritten scripts by content hash, for every session
AUDIT = web.AppKey("audit", AuditSink)  # the audit trail (proxy.audit); NoAudit when switched off
METRICS = web.AppKey("metrics", Metrics)  # the app's Prometheus metrics (proxy.metrics, GET /metrics)
OPEN_SOCKETS = web.AppKey("open_sockets", OpenSockets)  # relayed WebSockets closed at shutdown
EVENTS = web.AppKey("events", EventBus)  # integration events (proxy.events), fed by proxy.audit.event
HOOKS = web.AppKey("hooks", WebhookStore)  # webhooks and their delivery state (proxy.integrations)
