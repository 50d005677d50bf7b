"""A bounded cache of rewritten scripts, keyed by content hash: each distinct script is parsed
once per server, whichever session or page serves it.

The cache is a value: the composition root (``proxy/app.py``) creates one and hands it down;
nothing here is global. Bounded by the bytes it holds (keys and rewritten bodies), evicting the
least recently used. A script the rewriter leaves unchanged costs its key only, and a script in
which neither ``location`` nor ``eval`` occurs never reaches the cache (no hash, no parse: the
hot path). Classic scripts, modules and function bodies (event handlers, ``new Function``) are
cached apart: one text rewrites differently as each.
Thread-safe: the server rewrites large scripts in worker threads (tree-sitter parses without
the GIL); the lock covers the table, never a rewrite, so two threads may rewrite one script.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from rewriter.js import may_rewrite, on_text, rewrite_js_body_bytes, rewrite_js_bytes

__all__ = ["ScriptCache"]

_KEY_COST = 64  # bytes counted per entry besides the body


class ScriptCache:
    """``rewrite(data)`` is ``rewrite_js_bytes(data)``, remembered by SHA-256 of the input."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, bytes | None] = OrderedDict()  # None: unchanged
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def rewrite(self, data: bytes, *, module: bool = False) -> bytes:
        if not may_rewrite(data):
            return data
        if module:
            return self._cached(data, b"m", lambda d: rewrite_js_bytes(d, module=True))
        return self._cached(data, b"c", rewrite_js_bytes)

    def rewrite_body(self, data: bytes) -> bytes:
        """``rewrite_js_body_bytes``, remembered: event handlers repeat across rows and pages."""
        if not may_rewrite(data):
            return data
        return self._cached(data, b"b", rewrite_js_body_bytes)

    def _cached(self, data: bytes, kind: bytes, rewrite: Callable[[bytes], bytes]) -> bytes:
        key = hashlib.sha256(data).digest() + kind
        with self._lock:
            if key in self._entries:
                self.hits += 1
                self._entries.move_to_end(key)
                found = self._entries[key]
                return data if found is None else found
            self.misses += 1
        out = rewrite(data)
        stored = None if out is data else out
        cost = _KEY_COST + (len(out) if stored is not None else 0)
        with self._lock:
            if cost <= self.max_bytes and key not in self._entries:
                self._entries[key] = stored
                self.size += cost
                while self.size > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self.size -= _KEY_COST + (len(old) if old is not None else 0)
        return out

    def rewrite_text(self, source: str, module: bool = False) -> str:
        """The same for decoded text (inline ``<script>`` bodies)."""
        return on_text(source, lambda data: self.rewrite(data, module=module))

    def rewrite_body_text(self, source: str) -> str:
        """``rewrite_body`` for decoded text (event-handler attributes, ``javascript:`` URLs)."""
        return on_text(source, self.rewrite_body)

