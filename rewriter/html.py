"""HTML rewriting at the token level: URLs into the session's proxy space, all else untouched.

The public face of the HTML rewriter; the work is split by job:
- ``html_tables``: which attributes carry what (the single source of what is rewritten);
- ``html_values``: what one attribute value or raw-text content becomes;
- ``html_lol``: the tokenizer, lol_html (compiled, streaming, WHATWG rules), calling Python
  only for elements and raw text the tables care about;
- ``html_inject``: where the runtime goes (``PageContext.inject``): after ``<head>``, else
  before the first other start tag, so it precedes every script and resource;
- ``html_stream``: charset detection and decoding, runtime placement and lol_html as one
  stream (``HtmlStream``), whose output is the same whatever the chunking;
- ``html_regex``: the previous (regex) tokenizer, kept to measure against.

Every byte no rule rewrites is copied through: nothing is parsed and re-serialised, except a
start tag whose attributes change (written again by lol_html, see ``html_lol``). Style
content goes through ``rewriter.css``, scripts and event handlers through ``PageContext.js``.
Output is UTF-8; ``<meta charset>`` and ``http-equiv=content-type`` are changed to say so.
``iframe[srcdoc]`` recursion is capped at ``html_values.MAX_SRCDOC_DEPTH`` (deeper ones are dropped).
"""

from __future__ import annotations

from rewriter.html_stream import BufferLimit, HtmlStream, rewrite_bytes, rewrite_text
from rewriter.page import PageContext

__all__ = ["BufferLimit", "HtmlStream", "PageContext", "rewrite_html", "rewrite_html_text"]


def rewrite_html(body: bytes, ctx: PageContext, charset: str | None = None) -> bytes:
    """The rewritten document, UTF-8 encoded. ``charset``: the Content-Type header's, if any."""
    return rewrite_bytes(body, ctx, charset)


def rewrite_html_text(text: str, ctx: PageContext) -> str:
    """The same on decoded text (used for ``srcdoc`` and by callers that already decoded)."""
    return rewrite_text(text, ctx)
