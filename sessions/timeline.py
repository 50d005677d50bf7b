"""A session's story at a glance: the audit trail's records folded into a timeline.

``Timeline`` (and ``build_timeline`` for a whole list) reads a session's records in trail
order (``sessions.audit_record``) and returns what ``GET /api/v1/sessions/{id}/timeline`` answers and the console draws:

- ``participants``: one lane each (id, role, name) with its presence ``spans`` ([joined, left],
  ``left`` null while still in), from the ``joined``/``left``/``removed`` events;
- ``control``: who was in control when ([participant, from, to]), from ``created`` (the
  leader starts in control) and ``control`` events;
- ``navigations``: the driver's top-level page loads (``navigation`` events; without those, the
  exchanges marked ``navigation`` that went upstream);
- ``traffic``: exchanges counted in equal time buckets, split by path (``upstream``: went to the
  target; ``store``: a follower served from the driver's copy; ``proxy``: answered by cobrowse)
  with errors (status 400 and up, or an exchange that did not complete) and bytes sent;
- ``errors``: the failed exchanges themselves (method, URL, status, why);
- ``events``: every session event, as recorded (details as recorded: already redacted).

Invariants: bounded output whatever the trail's length (``MAX_ITEMS`` per list, the number
left out said in ``truncated``; ``buckets`` buckets); times are the records' own (seconds since
the epoch); nothing is read but the records given; spans and control still open stay open
(``null`` ends: drawn to ``end``). Pure: no I/O, no clock (``now``, for a live session, moves
``end`` to the present).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sessions.audit_record import Event, Exchange, Record

MAX_ITEMS: Final = 500
PATHS: Final = ("upstream", "store", "proxy")


@dataclass(slots=True)
class _Lane:
    id: str
    role: str = ""
    name: str = ""
    spans: list[list[float | None]] = field(default_factory=list)

    def enter(self, at: float) -> None:
        if not self.spans or self.spans[-1][1] is not None:
            self.spans.append([at, None])

    def leave(self, at: float) -> None:
        if self.spans and self.spans[-1][1] is None:
            self.spans[-1][1] = at


@dataclass(slots=True)
class _Folded:
    lanes: dict[str, _Lane] = field(default_factory=dict)
    control: list[list[Any]] = field(default_factory=list)
    navigations: list[dict[str, Any]] = field(default_factory=list)
    upstream_pages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[tuple[float, str, bool, int]] = field(default_factory=list)  # time, path, error, bytes
    truncated: dict[str, int] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None

    def lane(self, participant: str) -> _Lane:
        return self.lanes.setdefault(participant, _Lane(participant))

    def keep(self, name: str, items: list[dict[str, Any]], item: dict[str, Any]) -> None:
        if len(items) < MAX_ITEMS:
            items.append(item)
        else:
            self.truncated[name] = self.truncated.get(name, 0) + 1

    def hand_control(self, participant: str, at: float) -> None:
        if self.control and self.control[-1][0] == participant:
            return
        if self.control:
            self.control[-1][2] = at
        if len(self.control) < MAX_ITEMS:
            self.control.append([participant, at, None])
        else:
            self.truncated["control"] = self.truncated.get("control", 0) + 1


def _on_created(folded: _Folded, e: Event) -> None:
    lane = folded.lane(e.participant)
    lane.role, lane.name = lane.role or "leader", lane.name or e.get("agent")
    lane.enter(e.time)
    folded.hand_control(e.participant, e.time)


def _on_joined(folded: _Folded, e: Event) -> None:
    lane = folded.lane(e.participant)
    lane.role, lane.name = e.get("role") or lane.role, e.get("name") or lane.name
    lane.enter(e.time)


def _on_left(folded: _Folded, e: Event) -> None:
    folded.lane(e.participant).leave(e.time)


def _on_control(folded: _Folded, e: Event) -> None:
    folded.hand_control(e.get("controller") or e.participant, e.time)


def _on_navigation(folded: _Folded, e: Event) -> None:
    folded.keep("navigations", folded.navigations, {"time": e.time, "participant": e.participant,
                                                    "url": e.get("url")})


def _on_ended(folded: _Folded, e: Event) -> None:
    for lane in folded.lanes.values():
        lane.leave(e.time)
    if folded.control:
        folded.control[-1][2] = e.time


# event name -> what it changes in the timeline (every event is also listed as it is).
_ON_EVENT = {"created": _on_created, "joined": _on_joined, "left": _on_left, "removed": _on_left,
             "control": _on_control, "navigation": _on_navigation, "ended": _on_ended}


def _on_exchange(folded: _Folded, x: Exchange) -> None:
    failed = x.status >= 400 or bool(x.error)
    folded.exchanges.append((x.time, x.path, failed, x.response_bytes))
    if failed:
        folded.keep("errors", folded.errors, {"time": x.time, "participant": x.participant, "path": x.path,
                                              "method": x.method, "url": x.url, "status": x.status,
                                              "error": x.error})
    if x.navigation and x.path == "upstream" and not failed:
        folded.keep("upstream_pages", folded.upstream_pages, {"time": x.time, "participant": x.participant,
                                                              "url": x.url})


class Timeline:
    """Folds records one by one (``add``, in trail order); ``result`` is the timeline so far."""

    def __init__(self) -> None:
        self._folded = _Folded()

    def add(self, record: Record) -> None:
        folded = self._folded
        folded.first = record.time if folded.first is None else min(folded.first, record.time)
        folded.last = record.time if folded.last is None else max(folded.last, record.time)
        if isinstance(record, Event):
            on = _ON_EVENT.get(record.name)
            if on is not None:
                on(folded, record)
            folded.keep("events", folded.events, {"time": record.time, "participant": record.participant,
                                                  "name": record.name, "detail": dict(record.detail)})
        else:
            _on_exchange(folded, record)

    def result(self, now: float | None = None, buckets: int = 60) -> dict[str, Any]:
        """The timeline; ``now`` (a live session) moves its end to the present."""
        folded = self._folded
        start = folded.first if folded.first is not None else (now or 0.0)
        end = max(folded.last or start, now or start)
        return {
            "start": start,
            "end": end,
            "participants": [{"id": lane.id, "role": lane.role, "name": lane.name, "spans": lane.spans}
                             for lane in folded.lanes.values()],
            "control": folded.control,
            "navigations": folded.navigations or folded.upstream_pages,
            "traffic": _traffic(folded, start, end, max(1, min(buckets, 1000))),
            "errors": folded.errors,
            "events": folded.events,
            "truncated": folded.truncated,
        }


def _traffic(folded: _Folded, start: float, end: float, buckets: int) -> dict[str, Any]:
    width = max((end - start) / buckets, 1e-3)
    rows = [{"t": start + i * width, **dict.fromkeys(PATHS, 0), "errors": 0, "bytes": 0} for i in range(buckets)]
    for at, path, failed, size in folded.exchanges:
        row = rows[min(int((at - start) / width), buckets - 1)]
        row[path if path in PATHS else "proxy"] += 1
        row["errors"] += int(failed)
        row["bytes"] += size
    return {"bucket_seconds": width, "buckets": rows}


def build_timeline(records: Iterable[Record], now: float | None = None, buckets: int = 60) -> dict[str, Any]:
    """The timeline of one session's records (in trail order); ``now`` ends what is still open."""
    timeline = Timeline()
    for record in records:
        timeline.add(record)
    return timeline.result(now, buckets)
