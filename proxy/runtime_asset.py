"""The injected runtime, joined once from ``static/runtime/*.js`` in the order ``ORDER`` gives.

Served at ``/__cb/runtime.js`` on every proxied host; the per-page configuration travels in
the script tag's ``data-cb`` attribute, so the script itself is identical for every page and
cacheable (its ETag is its content hash).

The parts are wrapped in one named strict function, ``cbRuntime(cbGiven)``, called at once
with no argument. The name is what lets the runtime arm a fresh same-origin realm (an
``about:blank`` iframe, a popup): it compiles its own source with that realm's ``Function``
and calls it with ``{config, source}`` (see ``static/runtime/85-realms.js``).
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

RUNTIME_PATH = "/__cb/runtime.js"


@dataclass(frozen=True, slots=True)
class RuntimeAsset:
    body: bytes
    etag: str

    @classmethod
    def load(cls) -> RuntimeAsset:
        folder = resources.files("static").joinpath("runtime")
        order = folder.joinpath("ORDER").read_text("utf-8").split()
        parts = [f"// ---- {name}\n" + folder.joinpath(name).read_text("utf-8") for name in order]
        source = '(function cbRuntime(cbGiven) {\n"use strict";\n' + "\n".join(parts) + "\n})();\n"
        body = source.encode("utf-8")
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def tag(self, config: dict[str, Any]) -> str:
        """The ``<script>`` element injected first into every proxied document."""
        data = html.escape(json.dumps(config, separators=(",", ":")), quote=True)
        return f'<script src="{RUNTIME_PATH}?v={self.etag.strip(chr(34))[:12]}" data-cb="{data}"></script>'
