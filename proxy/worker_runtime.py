"""The worker runtime: the prelude a worker's own script is served with.

A worker (dedicated, shared or service; classic or module) gets no page runtime, so what its
script reads (``self.location``, ``self.origin``) would show the proxy host, and the real URLs
it passes to importScripts/fetch/XMLHttpRequest/WebSocket/EventSource would leave the proxy
space. ``rewriter.body`` rewrites the script's ``location`` references as for a page and puts
this prelude first: ``static/worker/00-head.js``, the page runtime's URL codec
(``static/runtime/10-origins.js``, ``20-urls.js``, reused as they are) and
``static/worker/90-glue.js``, in one strict function called at once with the session's config
(the page runtime's fields, ``url`` being the script's real URL) as JSON text.
Invariants: the prelude is one statement, valid at the top of a classic script and of a
module; it is wrapped in try/catch, so a failure leaves the script running as it came; the
config is data (a JSON string literal), never code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from proxy.config import Config
from proxy.visit import Visit

PARTS: Final = (("worker", "00-head.js"), ("runtime", "10-origins.js"), ("runtime", "20-urls.js"),
                ("worker", "90-glue.js"))


@dataclass(frozen=True, slots=True)
class WorkerRuntime:
    source: str  # the joined parts, wrapped in the strict function `cbWorker(cbConfigText)`

    @classmethod
    def load(cls) -> WorkerRuntime:
        static = resources.files("static")
        parts = [f"// ---- {folder}/{name}\n" + static.joinpath(folder, name).read_text("utf-8")
                 for folder, name in PARTS]
        return cls('(function cbWorker(cbConfigText) {\n"use strict";\n' + "\n".join(parts) + "\n})")

    def prelude(self, config: dict[str, Any]) -> str:
        """The statement a worker script starts with, for this config."""
        # json.dumps twice: a JS string literal holding the JSON text (ensure_ascii keeps
        # U+2028/U+2029 and any lone surrogate escaped).
        text = json.dumps(json.dumps(config, separators=(",", ":")))
        return f";try {{ {self.source}({text}); }} catch (cbError) {{ /* fail open */ }}\n"


def worker_prelude(config: Config, visit: Visit) -> str:
    """The prelude for the worker script ``visit`` fetches (its real URL, the session's space)."""
    return loaded().prelude({
        "sid": visit.session.id.lower(), "view": visit.space.view, "domain": config.domain.lower().rstrip("."),
        "scheme": "https" if config.public_scheme == "https" else "http", "port": config.browser_port,
        "url": visit.real_url,
        "aliases": {label: str(origin) for label, origin in visit.session.aliases.items()}, "prefix": "/__cb/",
    })


@cache
def loaded() -> WorkerRuntime:
    """The worker runtime, read once per process (immutable, like the page runtime asset)."""
    return WorkerRuntime.load()
