"""The HTML tokenizer of the compiled rewriter: lol_html (Cloudflare's streaming rewriter, a
WHATWG tokenizer in Rust), with Python called only where ``html_tables`` may change something.

lol_html copies every byte no handler touches and emits output as it goes; it buffers only
the token it is in. Python is called:
- per element (selector ``*``) when event handlers may be rewritten (``PageContext.js``), as
  the tables name every ``on<letters>`` attribute and CSS selectors cannot match a name
  prefix; else only for elements carrying an attribute some table names (``[href], [src], ...``);
- for the text of ``<style>``, ``<script>`` and ``<noscript>``: gathered to the element's end
  (lol_html hands it over in pieces), then replaced once if ``html_values`` changes it.
  ``<noscript>`` content, text to a browser that runs scripts, is rewritten as markup, as
  the regex rewriter read it: a script may insert it.
A tag whose attributes change is written again by lol_html: its name as written, the other
attributes as they were, single spaces between them, the changed value in double quotes.
Which values change, and to what, is ``html_values``'s decision; values reach it
entity-decoded, and go back with ``&`` escaped (lol_html escapes ``"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import SupportsIndex

import lolhtml

from rewriter.html_tables import DROPPED_HTTP_EQUIV, GLOBAL_ATTRS, HANDLER_PREFIX, TAG_RULES, Kind, attr_kind
from rewriter.html_values import DocumentValues, http_equiv, is_relative

# Every attribute some table names, as one selector list (escaped for CSS: "xlink:href").
_NAMED = ", ".join(f"[{name.replace(':', chr(92) + ':')}]" for name in sorted(
    {a for rules in TAG_RULES.values() for a in rules}))
_RAW_HTML = lolhtml.ContentType.HTML
_URL = Kind.URL
# Where lol_html writes its output (``bytearray.extend`` does).
Sink = Callable[[bytes | bytearray | Iterable[SupportsIndex]], object]


class _Elements:
    """Rewrites one element's attributes by the tables."""

    __slots__ = ("handlers", "values")

    def __init__(self, values: DocumentValues) -> None:
        self.values = values
        self.handlers = values.ctx.js is not None  # event handlers are rewritten

    def element(self, e: lolhtml.Element) -> None:
        attrs = e.attributes
        if not attrs:
            return
        lname = e.tag_name
        rules = TAG_RULES.get(lname, GLOBAL_ATTRS)
        equiv = ""
        if lname == "meta":
            equiv = http_equiv(e.get_attribute("http-equiv"))
            if equiv in DROPPED_HTTP_EQUIV:
                e.remove()
                return
        values = self.values
        for name, raw in attrs:
            kind = rules.get(name)
            if kind is None:
                if not (self.handlers and name.startswith(HANDLER_PREFIX)):
                    continue
                kind = attr_kind(rules, name)
                if kind is None:
                    continue
            elif kind is _URL and "&" not in raw and is_relative(raw) and lname != "base":
                continue  # the common case, kept out of the calls below
            if kind is Kind.DROP:
                e.remove_attribute(name)
                continue
            new = values.attribute(lname, kind, raw, equiv)
            if new is None:
                e.remove_attribute(name)
            elif new is not raw:
                e.set_attribute(name, new.replace("&", "&amp;"))


class _RawText:
    """Gathers a raw-text element's content and replaces it once, at its end."""

    __slots__ = ("lname", "parts", "rewrite", "script_type")

    def __init__(self, lname: str, rewrite: Callable[[str, str | None, str], str | None]) -> None:
        self.lname = lname
        self.rewrite = rewrite
        self.parts: list[str] = []
        self.script_type: str | None = None

    def element(self, e: lolhtml.Element) -> None:
        self.script_type = e.get_attribute("type")
        self.parts.clear()

    def text(self, t: lolhtml.TextChunk) -> None:
        piece = t.text
        if not t.last_in_text_node:
            if piece:
                self.parts.append(piece)
                t.remove()
            return
        held = bool(self.parts)
        content = "".join(self.parts) + piece if held else piece
        self.parts.clear()
        new = self.rewrite(self.lname, self.script_type, content)
        if new is not None:
            t.replace(new, _RAW_HTML)
        elif held:
            t.replace(content, _RAW_HTML)


def engine(values: DocumentValues, sink: Sink) -> lolhtml.HTMLRewriter:
    """A lol_html rewriter of one document (or fragment) writing its output to ``sink``."""
    rw = lolhtml.HTMLRewriter(sink)
    rw.on("*" if values.ctx.js is not None else _NAMED, _Elements(values))
    rw.on("style", _RawText("style", values.raw_text))
    # Without a script rewriter only an import map's JSON changes, and that needs a type.
    rw.on("script" if values.ctx.js is not None else "script[type]", _RawText("script", values.raw_text))
    rw.on("noscript", _RawText("noscript", lambda _n, _t, content: fragment(values, content)))
    return rw


def fragment(values: DocumentValues, text: str) -> str | None:
    """Markup in a document (``<noscript>`` content) rewritten with the document's values."""
    if "<" not in text:
        return None
    out = bytearray()
    rw = engine(values, out.extend)
    rw.write(text.encode("utf-8", "replace"))
    rw.end()
    new = out.decode("utf-8", "replace")
    return None if new == text else new
