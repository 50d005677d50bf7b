"""The server's Prometheus metrics, in a ``CollectorRegistry`` of the app's own (never the
library's global one: two apps in one process, as in the tests, count apart).

What is counted, and where it is fed from:
- every proxied HTTP exchange and CORS preflight, once, when its audit record is finished
  (``exchange``, called by ``proxy.audit_trace``, whichever path answered and whether or not
  the trail is kept): ``cobrowse_exchanges_total{path}`` (``upstream``: the driver's request
  went to the target; ``store``: a follower was served from the session's response store;
  ``proxy``: cobrowse answered itself), so the served-from-store ratio is
  ``store / (store + upstream)``; ``cobrowse_upstream_requests_total{method, status_class}``
  (``2xx``..``5xx``, or ``none`` when the target gave no answer: refused by policy, failed,
  timed out) and ``cobrowse_upstream_response_seconds`` (time to the target's answer head);
  ``cobrowse_errors_total{kind}`` (exchanges that did not complete, by kind; ``handler_error``:
  a request that raised in cobrowse's own code and was answered 500, counted by
  ``proxy.serving``);
- every session event, once (``event``, called by ``proxy.audit.event``):
  ``cobrowse_session_events_total{event}``, sessions created and ended, the live gauge
  (created minus ended *in this process*: with several nodes, sum the nodes), participants
  joined (by role; a participant coming back after leaving is not a new join) and left;
- read when scraped (``_Scraped``): open sync sockets and relay messages in and out
  (``proxy.synchub.SyncHub.counts``), the audit writer's counters (written, dropped, queued).

Hot path: ``exchange`` does a few dictionary look-ups and increments; label children are made
once and kept. Label values come from small closed sets (methods outside ``METHODS`` count as
``other``; error kinds are cobrowse's own words, folded to ``[a-z0-9_]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sessions.audit_record import Event, Exchange

PATHS = ("upstream", "store", "proxy")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_KIND = re.compile(r"[^a-z0-9]+")


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "none"


def error_kind(error: str) -> str:
    return _KIND.sub("_", error.lower()).strip("_")[:40] or "unknown"


class Metrics:
    """The counters and histograms; ``text()`` is what ``GET /metrics`` answers."""

    def __init__(self, sync_counts: Callable[[], Mapping[str, int]] = dict,
                 audit_counts: Callable[[], Mapping[str, Any]] = dict) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.exchanges = Counter("cobrowse_exchanges", "Proxied HTTP exchanges by who answered (upstream: the "
                                 "target, store: the session's response store, proxy: cobrowse itself)", ["path"],
                                 registry=r)
        self._paths = {path: self.exchanges.labels(path) for path in PATHS}
        self.upstream = Counter("cobrowse_upstream_requests", "Requests sent to targets by method and answer's "
                                "status class (none: no answer)", ["method", "status_class"], registry=r)
        self._sent: dict[tuple[str, str], Any] = {}  # label children, made once (a closed set)
        self.latency = Histogram("cobrowse_upstream_response_seconds", "Seconds until a target's answer head",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("cobrowse_errors", "Exchanges that did not complete, by kind", ["kind"], registry=r)
        self.events = Counter("cobrowse_session_events", "Session events (the audit trail's names)", ["event"],
                              registry=r)
        self.created = Counter("cobrowse_sessions_created", "Sessions created", registry=r)
        self.ended = Counter("cobrowse_sessions_ended", "Sessions ended (API, leader or expiry)", registry=r)
        self.live = Gauge("cobrowse_sessions_live", "Sessions created and not yet ended by this process",
                          registry=r)
        self.joined = Counter("cobrowse_participants_joined", "Participants who joined a session, by role",
                              ["role"], registry=r)
        self.left = Counter("cobrowse_participants_left", "Participants who left a session", registry=r)
        r.register(_Scraped(sync_counts, audit_counts))

    def exchange(self, record: Exchange) -> None:
        """A proxied exchange's finished record (each exchange passes here exactly once)."""
        child = self._paths.get(record.path)
        if child is not None:
            child.inc()
        if record.path == "upstream":
            key = (record.method if record.method in METHODS else "other", status_class(record.target_status))
            sent = self._sent.get(key)
            if sent is None:
                sent = self._sent[key] = self.upstream.labels(*key)
            sent.inc()
            if record.target_status:
                self.latency.observe(record.wait_ms / 1000.0)
        if record.error:
            self.errors.labels(error_kind(record.error)).inc()

    def event(self, record: Event) -> None:
        """A session event, as ``proxy.audit.event`` notes it."""
        self.events.labels(record.name).inc()
        count = _ON_EVENT.get(record.name)
        if count is not None:
            count(self, record)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _created(m: Metrics, record: Event) -> None:
    m.created.inc()
    m.live.inc()


def _ended(m: Metrics, record: Event) -> None:
    m.ended.inc()
    m.live.dec()


def _joined(m: Metrics, record: Event) -> None:
    if record.get("again") != "yes":
        m.joined.labels(record.get("role") or "unknown").inc()


def _left(m: Metrics, record: Event) -> None:
    m.left.inc()


# Session events with counts of their own besides cobrowse_session_events_total.
_ON_EVENT: Mapping[str, Callable[[Metrics, Event], None]] = {
    "created": _created, "ended": _ended, "joined": _joined, "left": _left,
}


class _Scraped(Collector):
    """Figures other objects keep, read when ``/metrics`` is scraped."""

    def __init__(self, sync_counts: Callable[[], Mapping[str, int]],
                 audit_counts: Callable[[], Mapping[str, Any]]) -> None:
        self._sync = sync_counts
        self._audit = audit_counts

    def collect(self) -> Iterator[Metric]:
        sync = self._sync()
        yield GaugeMetricFamily("cobrowse_sync_sockets", "Open sync sockets (participants' pages)",
                                value=sync.get("sockets", 0))
        relay = CounterMetricFamily("cobrowse_relay_messages", "Sync messages received from pages (in) and "
                                    "queued to them (out)", labels=["direction"])
        relay.add_metric(["in"], sync.get("in", 0))
        relay.add_metric(["out"], sync.get("out", 0))
        yield relay
        audit = self._audit()
        if audit.get("enabled"):
            records = CounterMetricFamily("cobrowse_audit_records", "Audit records written, or dropped because "
                                          "the disk could not keep up", labels=["outcome"])
            records.add_metric(["written"], audit.get("written", 0))
            records.add_metric(["dropped"], audit.get("dropped", 0))
            yield records
            yield GaugeMetricFamily("cobrowse_audit_queued", "Audit records waiting for the disk",
                                    value=audit.get("queued", 0))
