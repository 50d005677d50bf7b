"""A streaming HTML rewrite: bytes in as they arrive, rewritten UTF-8 bytes out as they are ready.

``HtmlStream(ctx, charset).feed(chunk)`` returns what can be sent so far; ``close()`` the rest.
The output is the same bytes for any way the body is cut into chunks (tests/test_html_streaming.py),
so a whole-body rewrite is one ``feed`` and a ``close``.

Stages, each holding back only what it must:
1. charset: the first bytes are held until the encoding is known (``rewriter.charset``: BOM,
   header, ``<meta>`` prescan): 3 with a Content-Type charset (a BOM still wins over it), else
   ``PRESCAN_BYTES``; then decoded incrementally;
2. runtime placement: decoded text is held until ``html_inject`` knows where the runtime
   goes (at most its ``SCAN_LIMIT`` characters), then the runtime is written there;
3. tokenizing and rewriting: ``html_lol`` (lol_html), which holds an unfinished tag and the
   text of a ``<style>``/``<script>``/``<noscript>`` until its end.

``max_buffered`` bounds that state: when more than that many bytes went in since output last
grew (a tag or a raw-text element that never ends), ``feed`` raises ``BufferLimit``, so a page
of any size can be rewritten while no one part of it is held past the bound.
"""

from __future__ import annotations

import codecs
from typing import Protocol

from rewriter.charset import PRESCAN_BYTES, REPLACEMENT, detect_charset, lookup
from rewriter.html_inject import inject_at
from rewriter.html_lol import engine
from rewriter.html_values import DocumentValues
from rewriter.page import PageContext

_BOM_BYTES = 3  # the longest byte order mark: all a declared charset waits for


class BufferLimit(ValueError):
    """The rewrite would hold more of the page than ``max_buffered``."""


class HtmlStream:
    """One document's rewrite, fed in chunks."""

    __slots__ = ("_decode", "_engine", "_head", "_held", "_inject", "_limit", "_out", "_pending", "_scanned", "_since",
                 "charset")

    def __init__(self, ctx: PageContext, charset: str | None = None, *, max_buffered: int | None = None,
                 depth: int = 0) -> None:
        self.charset = charset  # the Content-Type header's, if any
        self._head = bytearray()  # raw bytes before the encoding is known
        self._decode: _Decoder | None = None
        self._pending: list[str] = []  # decoded text before the runtime's place is known
        self._held = 0
        self._scanned = 0  # how much text was held at the last look for the runtime's place
        self._inject: str | None = ctx.inject
        self._out = bytearray()
        self._limit = max_buffered
        self._since = 0  # bytes fed since the output last grew
        values = DocumentValues(ctx, depth, rewrite_text)
        self._engine = engine(values, self._out.extend)

    def feed(self, chunk: bytes) -> bytes:
        """Rewrite the next part of the body; returns the output ready so far (maybe none)."""
        if self._decode is None:
            self._head += chunk
            if len(self._head) < (_BOM_BYTES if lookup(self.charset) else PRESCAN_BYTES):
                return b""
            self._text(self._start(), final=False)
        else:
            self._text(self._decode.decode(chunk), final=False)
        return self._take()

    def close(self) -> bytes:
        """The end of the body: the rest of the output."""
        text = self._start() if self._decode is None else ""
        assert self._decode is not None
        self._text(text + self._decode.decode(b"", True), final=True)
        self._engine.end()
        if self._inject is not None:  # no place found before the end: the runtime goes last
            self._out += self._inject.encode("utf-8", "replace")
            self._inject = None
        return self._take()

    def _start(self) -> str:
        head = bytes(self._head)
        self._head.clear()
        codec = detect_charset(head, self.charset)
        self._decode = _decoder(codec)
        text = self._decode.decode(head)
        return text[1:] if text.startswith("\ufeff") else text

    def _text(self, text: str, final: bool) -> None:
        if self._inject is None:
            self._write(text)
            return
        if text:
            self._pending.append(text)
            self._held += len(text)
        if not final and self._held < self._scanned * 2:
            return  # scanned again only once the text held doubled: linear time in all
        self._scanned = self._held
        pending = "".join(self._pending)
        self._pending = [pending] if pending else []
        at = inject_at(pending, final)
        if at is None:
            return
        self._pending.clear()
        self._write(pending[:at])
        if at < len(pending) or not final:
            self._out += self._inject.encode("utf-8", "replace")
            self._inject = None
        self._write(pending[at:])

    def _write(self, text: str) -> None:
        if not text:
            return
        before = len(self._out)
        data = text.encode("utf-8", "replace")
        self._since += len(data)
        self._engine.write(data)
        if len(self._out) > before:
            self._since = 0
        if self._limit is not None and self._since > self._limit:
            raise BufferLimit(f"more than {self._limit} bytes of the page would be held to rewrite it")

    def _take(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out


def _decoder(codec: str) -> _Decoder:
    if codec == REPLACEMENT:
        return _Replacement()
    try:
        return codecs.getincrementaldecoder(codec)("replace")
    except LookupError:
        return codecs.getincrementaldecoder("utf-8")("replace")


class _Decoder(Protocol):
    def decode(self, input: bytes, final: bool = False) -> str: ...


class _Replacement:
    """The WHATWG replacement encoding: a non-empty body is one U+FFFD."""

    def __init__(self) -> None:
        self.seen = False

    def decode(self, input: bytes, final: bool = False) -> str:
        if input and not self.seen:
            self.seen = True
            return "\ufffd"
        return ""


def rewrite_text(text: str, ctx: PageContext, depth: int = 0) -> str:
    """A whole decoded document (``srcdoc``, a text view) rewritten: text in, text out."""
    stream = HtmlStream(ctx, "utf-8", depth=depth)
    return (stream.feed(text.encode("utf-8", "replace")) + stream.close()).decode("utf-8", "replace")


def rewrite_bytes(body: bytes, ctx: PageContext, charset: str | None = None) -> bytes:
    """A whole body rewritten at once: the same bytes a stream of it gives."""
    stream = HtmlStream(ctx, charset)
    return stream.feed(body) + stream.close()
