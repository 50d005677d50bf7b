"""A bounded cache of rewritten scripts, keyed by content hash: each distinct script is parsed
once per server, whichever session or page serves it.

The cache is a value: the composition root (``proxy/app.py``) creates one and hands it down;
nothing here is global. Bounded by the bytes it holds (keys and rewritten bodies), evicting the
least recently used. A script the rewriter leaves unchanged costs its key only, and a script in
which ``location`` does not occur never reaches the cache (no hash, no parse: the hot path).
Thread-safe: the server rewrites large scripts in worker threads (tree-sitter parses without
the GIL); the lock covers the table, never a rewrite, so two threads may rewrite one script.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from rewriter.js import NAME, rewrite_js, rewrite_js_bytes

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
        if NAME not in data:
            return data
        key = hashlib.sha256(data).digest() + (b"m" if module else b"c")
        with self._lock:
            if key in self._entries:
                self.hits += 1
                self._entries.move_to_end(key)
                found = self._entries[key]
                return data if found is None else found
            self.misses += 1
        out = rewrite_js_bytes(data, module=module)
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
        if "location" not in source:
            return source
        try:
            data = source.encode("utf-8")
        except UnicodeEncodeError:
            return rewrite_js(source, module=module)  # unchanged: see rewrite_js
        out = self.rewrite(data, module=module)
        return source if out is data else out.decode("utf-8")
