"""Which response bodies are rewritten, and by which rewriter: one table, read like data.

Bodies of other types (images, video, fonts, downloads, JavaScript, JSON) pass through
untouched and are streamed by the proxy; URLs that scripts build are the runtime's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rewriter.css import rewrite_css_bytes
from rewriter.html import PageContext, rewrite_html

Rewrite = Callable[[bytes, PageContext, "str | None"], bytes]


def _html(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    return rewrite_html(body, ctx, charset)


def _css(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    return rewrite_css_bytes(body, lambda url: ctx.space.to_proxy(url, ctx.url), charset)


@dataclass(frozen=True, slots=True)
class BodyRewriter:
    rewrite: Rewrite
    content_type: str  # what the rewritten body is sent as (always UTF-8)


BY_MIME: dict[str, BodyRewriter] = {
    "text/html": BodyRewriter(_html, "text/html; charset=utf-8"),
    "application/xhtml+xml": BodyRewriter(_html, "application/xhtml+xml; charset=utf-8"),
    "text/css": BodyRewriter(_css, "text/css; charset=utf-8"),
}


def rewriter_for(content_type: str | None) -> BodyRewriter | None:
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return BY_MIME.get(mime)


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None
