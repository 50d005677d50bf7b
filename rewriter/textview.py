"""The HTML a browser builds to show a text body opened as a page (JSON, plain text).

Chromium shows a top-level ``application/json`` or ``text/plain`` document as a generated HTML
document holding the text in one ``<pre>``. Such a body is never rewritten and can carry no
runtime, so a co-browsing follower that opened it could no longer be told where the leader
goes next. Followers are served this equivalent document instead (the same text in the same
``<pre>``, so the same visible text), into which the runtime is injected like any page.

Pure: bytes in, bytes out. The text is escaped; nothing in it is ever markup.
"""

from __future__ import annotations

import codecs
import html

# Types a browser shows as text when opened as a page, and which the proxy does not rewrite.
TEXT_VIEW_TYPES = frozenset({"application/json", "text/json", "text/plain"})

_PAGE = ('<!doctype html><html><head><meta name="color-scheme" content="light dark"></head>'
         '<body><pre style="word-wrap: break-word; white-space: pre-wrap;">{text}</pre></body></html>')


def shown_as_text(content_type: str | None) -> bool:
    """Whether a document of this type is shown by the browser as text in a generated page."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    return mime in TEXT_VIEW_TYPES or (mime.startswith("application/") and mime.endswith("+json"))


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


def text_view(body: bytes, charset: str | None = None) -> bytes:
    """The page showing ``body`` as text (decoded with ``charset``, UTF-8 by default), as UTF-8."""
    text = body.decode(_codec(charset), "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return _PAGE.format(text=html.escape(text, quote=False)).encode("utf-8")
