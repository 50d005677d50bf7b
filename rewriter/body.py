"""Which response bodies are rewritten, and by which rewriter: one table, read like data.

Bodies of other types (images, video, fonts, downloads, JSON) pass through untouched and
are streamed by the proxy; URLs that scripts build are the runtime's job. JavaScript that a
page loads with ``<script>`` has its references to ``location`` rewritten (``rewriter.js``,
through the server's cache that ``PageContext.js`` names). A worker's own script (Sec-Fetch-Dest
``worker``, ``sharedworker``, ``serviceworker``) is rewritten the same way and gets the worker
runtime, which ``PageContext.inject`` then carries (proxy/worker_runtime.py), as its first
statement: after the script's directive prologue, so a ``"use strict"`` script stays strict.
Scripts loaded by worklets, which get no runtime, stream untouched.
JSON is never rewritten: it is data a script reads, and a script must read the real URLs.
HTML is rewritten as it streams (``BodyRewriter.stream``, ``rewriter.html.HtmlStream``): the same
bytes as the whole-body rewrite, sent as they are ready; the other types are rewritten whole.

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
from typing import Final, Protocol

from rewriter.charset import decode_text, lookup
from rewriter.css import rewrite_css_bytes
from rewriter.html import HtmlStream, PageContext, rewrite_html
from rewriter.js import may_rewrite, may_rewrite_text
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


def _js_text(body: bytes, charset: str | None) -> str:
    # A declared charset is honoured, else UTF-8 (a body that is not valid UTF-8 is read as
    # windows-1252, what browsers mostly assume for legacy pages).
    codec = lookup(charset) or "utf-8"
    if codec != "utf-8":
        return decode_text(body, codec)
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return decode_text(body, "windows-1252")


def _js(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    # Sent as UTF-8.
    if (lookup(charset) or "utf-8") == "utf-8" and not may_rewrite(body):
        return body  # the hot path: nothing to rewrite, nothing to decode
    text = _js_text(body, charset)
    if ctx.js is not None:
        text = ctx.js(text, False)
    return text.encode("utf-8", "surrogatepass")


# A script's directive prologue: whitespace, comments and string-literal statements.
_PROLOGUE: Final = re.compile(
    r"""(?:\s|//[^\n\r\u2028\u2029]*|/\*[\s\S]*?\*/|(?:'(?:[^'\\\n\r]|\\[\s\S])*'|"(?:[^"\\\n\r]|\\[\s\S])*")"""
    r"""[ \t]*(?:;|(?=[\n\r])))*"""
)


def _worker_js(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    # The worker runtime (ctx.inject, one statement) goes after the directive prologue, so
    # the script keeps its strictness (a line break first if all of it is a line comment).
    text = _js_text(body, charset)
    if ctx.js is not None and may_rewrite_text(text):
        text = ctx.js(text, False)
    cut = _PROLOGUE.match(text)
    at = cut.end() if cut else 0
    sep = "\n" if 0 < at == len(text) and text[-1] not in "\n\r;" else ""
    return (text[:at] + sep + ctx.inject + text[at:]).encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class BodyRewriter:
    rewrite: Rewrite
    content_type: str  # what the rewritten body is sent as (always UTF-8)
    documents_only: bool = False  # rewritten only when loaded as a document (see above)
    # Rewritten only when loaded by a page's <script> (Sec-Fetch-Dest: script): workers and
    # worklets do not get the runtime whose functions rewritten scripts call.
    scripts_only: bool = False
    worker: bool = False  # a worker's own script: ``PageContext.inject`` is the worker runtime
    # Rewrites the body as it arrives (same bytes as ``rewrite``): (context, charset, bound on
    # what it holds) -> a stream; None: the body is rewritten whole.
    stream: Callable[[PageContext, str | None, int], BodyStream] | None = None


class BodyStream(Protocol):
    """A body rewritten as it streams: ``feed`` each piece, then ``close``; each returns the
    output ready so far."""

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


def _html_stream(ctx: PageContext, charset: str | None, max_buffered: int) -> BodyStream:
    return HtmlStream(ctx, charset, max_buffered=max_buffered)


# The Sec-Fetch-Dest values of a worker's own script (its module graph's too).
WORKER_DESTS: Final = frozenset({"worker", "sharedworker", "serviceworker"})
_WORKER_JS: Final = BodyRewriter(_worker_js, "text/javascript; charset=utf-8", scripts_only=True, worker=True)


def _xml_type(mime: str) -> BodyRewriter:
    return BodyRewriter(_xml, f"{mime}; charset=utf-8", documents_only=True)


BY_MIME: dict[str, BodyRewriter] = {
    "text/html": BodyRewriter(_html, "text/html; charset=utf-8", stream=_html_stream),
    "text/css": BodyRewriter(_css, "text/css; charset=utf-8"),
    **{mime: _xml_type(mime) for mime in (
        "application/xhtml+xml", "image/svg+xml", "application/rss+xml", "application/atom+xml",
        "application/rdf+xml", "application/xml", "text/xml",
    )},
    **{mime: BodyRewriter(_js, "text/javascript; charset=utf-8", scripts_only=True) for mime in JS_MIME_TYPES},
}


def rewriter_for(content_type: str | None, *, document: bool = True,
                 script: bool | str | None = False) -> BodyRewriter | None:
    """The rewriter for a body of this type; ``document``: the browser loads it as a document;
    ``script``: a page loads it as a script (True, or ``script_kind``'s answer: ``"script"``,
    or a worker destination for a worker's own script)."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    found = BY_MIME.get(mime)
    if found is None or (found.documents_only and not document) or (found.scripts_only and not script):
        return None
    return _WORKER_JS if found.scripts_only and script in WORKER_DESTS else found


def script_kind(dest: str | None) -> str | None:
    """What ``rewriter_for``'s ``script`` is for a request's Sec-Fetch-Dest: ``"script"`` for a
    page's script, the destination itself for a worker's script, None for anything else."""
    return dest if dest == "script" or dest in WORKER_DESTS else None


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
