"""The injected runtime, joined once from ``static/runtime/*.js`` in the order ``ORDER`` gives.

The script is identical for every page (the per-page configuration travels in the script tag's
``data-cb`` attribute), so it is served as one static asset that a browser fetches once:

- minified (``rjsmin``: comments and whitespace only, names kept, so the named wrapper below and
  every error message stay as written), and content-hashed: ``/__cb/runtime.js?v=<hash>``;
- from the control plane's origin, not from each proxy host: every proxied origin of every
  session loads the same URL, so the browser's HTTP cache holds it once (all of them are one
  site, one cache partition) where a per-host URL was fetched again for each origin a page
  reached (every iframe and navigation to another target origin);
- with the hash it is immutable (a year, ``immutable``); without it or with another hash the
  current body is answered ``no-cache`` (revalidated by ETag), so an old URL never caches new code;
- brotli or gzip when the client accepts them, each encoded once, on first use;
- CORS-readable and loaded with ``crossorigin="anonymous"``: no cookie goes with it, and errors
  the runtime's own code raises are not muted to "Script error." for the page's ``onerror``.

The parts are wrapped in one named strict function, ``cbRuntime(cbGiven)``, called at once
with no argument. The name is what lets the runtime arm a fresh same-origin realm (an
``about:blank`` iframe, a popup): it compiles its own source with that realm's ``Function``
and calls it with ``{config, source}`` (see ``static/runtime/85-realms.js``).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import brotlicffi
import rjsmin

RUNTIME_PATH = "/__cb/runtime.js"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Content codings offered, best first, and how each is made (once per asset).
CODINGS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    ("br", lambda body: bytes(brotlicffi.compress(body, quality=9))),
    ("gzip", lambda body: gzip.compress(body, compresslevel=9, mtime=0)),
)


def accepted_codings(header: str) -> frozenset[str]:
    """The content codings an ``Accept-Encoding`` value allows (``q=0`` refuses one)."""
    accepted = set()
    for part in header.split(","):
        name, _, params = part.partition(";")
        q = params.strip().lower().removeprefix("q=") if params.strip().lower().startswith("q=") else "1"
        try:
            allowed = float(q) > 0
        except ValueError:
            allowed = False
        if name.strip() and allowed:
            accepted.add(name.strip().lower())
    return frozenset(accepted)


@dataclass(frozen=True, slots=True)
class RuntimeAsset:
    body: bytes
    etag: str
    version: str  # the content hash the URL carries
    url: str  # where every proxied page loads it from: the control plane's origin, this path and hash
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, control_origin: str = "") -> RuntimeAsset:
        """The runtime as served, for pages that load it from ``control_origin`` (``Config.control_origin``;
        "": from their own host, as tests that serve it themselves do)."""
        folder = resources.files("static").joinpath("runtime")
        order = folder.joinpath("ORDER").read_text("utf-8").split()
        parts = [folder.joinpath(name).read_text("utf-8") for name in order]
        source = '(function cbRuntime(cbGiven) {\n"use strict";\n' + "\n".join(parts) + "\n})();\n"
        body = rjsmin.jsmin(source).encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        return cls(body, f'"{digest[:32]}"', digest[:16], f"{control_origin}{RUNTIME_PATH}?v={digest[:16]}")

    def tag(self, config: dict[str, Any]) -> str:
        """The ``<script>`` element injected first into every proxied document. Its config names the
        runtime's URL too (``runtime``): documents the page makes (srcdoc frames) load the same one."""
        data = html.escape(json.dumps({**config, "runtime": self.url}, separators=(",", ":")), quote=True)
        src = html.escape(self.url, quote=True)
        return f'<script src="{src}" crossorigin="anonymous" data-cb="{data}"></script>'

    def cache_control(self, version: str | None) -> str:
        return IMMUTABLE if version == self.version else REVALIDATE

    def coded(self, accept_encoding: str) -> tuple[str, bytes]:
        """The best coding the client accepts and the body in it (``""``: as is)."""
        accepted = accepted_codings(accept_encoding)
        for name, encode in CODINGS:
            if name in accepted:
                if name not in self.encoded:
                    self.encoded[name] = encode(self.body)
                return name, self.encoded[name]
        return "", self.body
