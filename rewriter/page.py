"""What a document is rewritten for: its real URL, the session's proxy space, the runtime tag.

One value handed to every body rewriter (HTML, CSS in pages, XML, scripts); it holds no state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rewriter.space import ProxySpace


@dataclass(frozen=True, slots=True)
class PageContext:
    url: str  # real URL of the document (base for protocol-relative URLs)
    space: ProxySpace
    inject: str  # HTML inserted as the first thing the browser executes (the runtime <script>)
    # Rewrites an inline script's text, (source, is_module) -> source: the server's
    # rewriter.js_cache.ScriptCache.rewrite_text; None leaves scripts (and handlers) as they are.
    js: Callable[[str, bool], str] | None = None
    # Rewrites an event-handler attribute (a function body): ScriptCache.rewrite_body_text;
    # None, when ``js`` is set, uses rewrite_js_body itself (uncached; handlers are short).
    js_body: Callable[[str], str] | None = None
