"""Which response bodies are rewritten, and by which rewriter: one table, read like data.

Bodies of other types (images, video, fonts, downloads, JSON) pass through untouched and
are streamed by the proxy; URLs that scripts build are the runtime's job. JavaScript that a
page loads with ``<script>`` has its references to ``location`` rewritten (``rewriter.js``,
through the server's cache that ``PageContext.js`` names); scripts loaded by workers and
worklets, which do not get the runtime, stream untouched.
JSON is never rewritten: it is data a script reads, and a script must read the real URLs.

XML types are rewritten only when the browser loads them as a document (a navigation, a frame,
an ``<object>``/``<embed>``): that is where the browser itself follows their URLs (renders
the page, loads the XSLT, follows a link). A feed or a sitemap that a script fetches is data,
like JSON, and the script sees the real URLs; what it writes into the page is mapped by the
runtime. HTML and CSS are rewritten whoever asks.

A response without ``Content-Type`` is sniffed as a browser sniffs a document (``sniff``,
after the MIME Sniffing standard's "rules for identifying an unknown MIME type", HTML and XML
signatures only): a document that a browser would render as HTML or XML is rewritten and sent
with the type the browser would have given it, so the runtime is in it and the page stays in
the proxy space. Anything else stays type-less and untouched, and the browser sniffs it as it
would without the proxy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from rewriter.charset import decode_text, lookup
from rewriter.css import rewrite_css_bytes
from rewriter.html import PageContext, rewrite_html
from rewriter.js import may_rewrite
from rewriter.js_tables import JS_MIME_TYPES
from rewriter.xml import rewrite_xml

Rewrite = Callable[[bytes, PageContext, "str | None"], bytes]

# The MIME Sniffing standard reads at most this many bytes of a resource's header.
SNIFF_BYTES: Final = 1445


def _html(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    return rewrite_html(body, ctx, charset)


def _css(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    return rewrite_css_bytes(body, lambda url: ctx.space.to_proxy(url, ctx.url), charset)


def _xml(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    return rewrite_xml(body, ctx, charset)


def _js(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    # Sent as UTF-8: a declared charset is honoured, else UTF-8 (a body that is not valid
    # UTF-8 is read as windows-1252, what browsers mostly assume for legacy pages).
    codec = lookup(charset) or "utf-8"
    if codec == "utf-8" and not may_rewrite(body):
        return body  # the hot path: nothing to rewrite, nothing to decode
    if codec == "utf-8":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = decode_text(body, "windows-1252")
    else:
        text = decode_text(body, codec)
    if ctx.js is not None:
        text = ctx.js(text, False)
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class BodyRewriter:
    rewrite: Rewrite
    content_type: str  # what the rewritten body is sent as (always UTF-8)
    documents_only: bool = False  # rewritten only when loaded as a document (see above)
    # Rewritten only when loaded by a page's <script> (Sec-Fetch-Dest: script): workers and
    # worklets do not get the runtime whose functions rewritten scripts call.
    scripts_only: bool = False


def _xml_type(mime: str) -> BodyRewriter:
    return BodyRewriter(_xml, f"{mime}; charset=utf-8", documents_only=True)


BY_MIME: dict[str, BodyRewriter] = {
    "text/html": BodyRewriter(_html, "text/html; charset=utf-8"),
    "text/css": BodyRewriter(_css, "text/css; charset=utf-8"),
    **{mime: _xml_type(mime) for mime in (
        "application/xhtml+xml", "image/svg+xml", "application/rss+xml", "application/atom+xml",
        "application/rdf+xml", "application/xml", "text/xml",
    )},
    **{mime: BodyRewriter(_js, "text/javascript; charset=utf-8", scripts_only=True) for mime in JS_MIME_TYPES},
}


def rewriter_for(content_type: str | None, *, document: bool = True, script: bool = False) -> BodyRewriter | None:
    """The rewriter for a body of this type; ``document``: the browser loads it as a document;
    ``script``: a page loads it as a script."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    found = BY_MIME.get(mime)
    if found is None or (found.documents_only and not document) or (found.scripts_only and not script):
        return None
    return found


# The standard's HTML signatures: optional whitespace, then one of these (case-insensitive)
# followed by a space or ">" (its "tag-terminating byte"); then "<!--", then "<?xml".
_HTML_SIGNATURE: Final = re.compile(
    rb"[\t\n\x0c\r ]*+(?:<(?:!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE|TITLE|B|BODY|BR|P)"
    rb"[ >]|<!--)",
    re.I,
)
_XML_SIGNATURE: Final = re.compile(rb"[\t\n\x0c\r ]*+<\?xml")


def sniff(head: bytes) -> str | None:
    """The type a browser gives a type-less document starting with ``head``, if HTML or XML.

    ``head``: at least the first ``SNIFF_BYTES`` bytes (fewer only if the body is shorter).
    A byte order mark is skipped, as browsers do before sniffing text.
    """
    head = head[:SNIFF_BYTES]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if _HTML_SIGNATURE.match(head):
        return "text/html"
    if _XML_SIGNATURE.match(head):
        return "text/xml"
    return None


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None
