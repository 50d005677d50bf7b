"""The shared page state a late joiner or a reconnecting page catches up from.

Fed only with input events the relay accepted from the controller (``sessions.relay`` checks the
authority first), it keeps what ``docs/sync-protocol.md`` calls the ``state`` snapshot: the real
URL per window, the latest form value per element, the latest scroll per target, and storage
per real origin. Values, not deltas: applying a snapshot twice is harmless.

Invariants: every table is bounded (``StateLimits``); form and scroll entries describe the
controller's main window and are cleared when it moves to another URL or loads a new document
at the same one (a fragment change keeps them); keys of ``forms``/``scroll`` are protocol path
keys (``protocol.path_key``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessions.protocol import path_key

# Which fields of an ``input``/``scroll`` message the snapshot keeps.
FORM_FIELDS = ("value", "checked", "selected", "sel")
SCROLL_FIELDS = ("x", "y", "anchor")
# Message types that change the snapshot.
STATE_TYPES = frozenset({"nav", "window", "storage", "scroll", "input"})
# ``nav`` kinds that mean a new document was loaded (a form posted to its own URL included).
NEW_DOCUMENT_KINDS = frozenset({"load", "reload"})


@dataclass(frozen=True, slots=True)
class StateLimits:
    max_forms: int = 2000
    max_scrolls: int = 500
    max_storage_keys: int = 1000
    max_storage_origins: int = 50
    max_windows: int = 50


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


class SharedState:
    def __init__(self, limits: StateLimits | None = None, windows: Mapping[str, str] | None = None) -> None:
        self.limits = limits or StateLimits()
        self.windows: dict[str, str] = dict(windows or {})
        self.scroll: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.forms: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.storage: dict[str, dict[str, dict[str, str]]] = {}

    @property
    def current_url(self) -> str:
        return self.windows.get("main", "")

    def to_json(self) -> dict[str, Any]:
        """Everything kept, as JSON-ready values (key order is the tables' eviction order)."""
        return {"windows": self.windows, "scroll": self.scroll, "forms": self.forms, "storage": self.storage}

    @classmethod
    def from_json(cls, tree: Mapping[str, Any], limits: StateLimits | None = None) -> SharedState:
        state = cls(limits, tree["windows"])
        state.scroll = OrderedDict(tree["scroll"])
        state.forms = OrderedDict(tree["forms"])
        state.storage = tree["storage"]
        return state

    def snapshot(self, controller: str) -> dict[str, Any]:
        return {"url": self.current_url, "windows": dict(self.windows), "scroll": dict(self.scroll),
                "forms": dict(self.forms),
                "storage": {o: {a: dict(kv) for a, kv in areas.items()} for o, areas in self.storage.items()},
                "controller": controller}

    def apply(self, kind: str, fields: Mapping[str, Any], window: str, origin: str) -> None:
        """One accepted event from the controller's page in ``window`` of ``origin``."""
        limits = self.limits
        if kind == "nav":
            self.set_window_url(window, str(fields["url"]), new_document=fields.get("kind") in NEW_DOCUMENT_KINDS)
        elif kind == "window":
            opened = str(fields["window"])
            if fields["action"] == "close":
                self.windows.pop(opened, None)
            elif opened in self.windows or len(self.windows) < limits.max_windows:
                self.windows[opened] = str(fields.get("url") or "")
        elif kind == "storage":
            self._apply_storage(origin, fields)
        elif window != "main":
            return
        elif kind == "scroll":
            _put(self.scroll, path_key(fields.get("target")),
                 {k: fields.get(k) for k in SCROLL_FIELDS}, limits.max_scrolls)
        elif kind == "input":
            _put(self.forms, path_key(fields["target"]),
                 {k: fields[k] for k in FORM_FIELDS if k in fields}, limits.max_forms)

    def set_window_url(self, window: str, url: str, *, new_document: bool = False) -> None:
        previous = self.windows.get(window)
        if previous is None and len(self.windows) >= self.limits.max_windows:
            return
        self.windows[window] = url
        moved = previous is not None and _without_fragment(previous) != _without_fragment(url)
        if window == "main" and (moved or new_document):
            self.scroll.clear()
            self.forms.clear()

    def _apply_storage(self, origin: str, fields: Mapping[str, Any]) -> None:
        if origin not in self.storage and len(self.storage) >= self.limits.max_storage_origins:
            return
        area = self.storage.setdefault(origin, {}).setdefault(str(fields["area"]), {})
        key, value = fields.get("key"), fields.get("value")
        if key is None:
            area.clear()
        elif value is None:
            area.pop(key, None)
        elif key in area or len(area) < self.limits.max_storage_keys:
            area[key] = value


def _put(table: OrderedDict[str, dict[str, Any]], key: str, value: dict[str, Any], cap: int) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > cap:
        table.popitem(last=False)
