"""XML documents that carry URLs (feeds, sitemaps, SVG, XHTML): URLs into the proxy space.

lxml parses the body, the tables of ``xml_tables`` say which attributes and texts are URLs,
each goes through the one URL authority (``ProxySpace.to_proxy``, with the document's real URL,
or the ``xml:base`` in scope, as base), and the tree is serialised again. Unlike HTML, XML has
one parse a browser and lxml agree on, so parse and serialise loses no meaning (quote style,
attribute spacing and blank lines in the prolog may change; under an XHTML 1.x DOCTYPE libxml2
writes its XHTML compatibility form: ``<br />`` and a ``<meta http-equiv="Content-Type">``).
Where a URL is mapped, the HTML rewriter's micro-syntax is reused (``html_values.PLAIN_URL``: each
origin mapped once per document), never a copy of it.

Safe parsing (``_parser``): no entity is expanded (references stay references, and the internal
DTD subset that declares them is written back for the browser to expand), no DTD or external
entity is loaded, nothing is read from the network or the file system, and libxml2's default
limits hold (``huge_tree`` off: depth, text node and name sizes bounded; its amplification
limit refuses a billion-laughs body even unexpanded, which then fails open as below, and
Chromium's parser refuses it too). The body is already bounded by ``Config.max_rewrite_body``.

Fail open, but never leave a rendered page's links in the real web:
- a body that does not parse, as XHTML or SVG (documents a browser renders, whose links a user
  can follow, and where Chromium renders what precedes the error), goes through the HTML
  token rewriter, which reads any bytes and rewrites the same attributes;
- any other XML (feeds, sitemaps) that does not parse is served unchanged: Chromium shows it as
  text or a tree, follows nothing in it, and the CSP keeps a page that reads it from loading
  the real web.

Runtime: injected into XHTML documents (as first child of ``<head>``, else of the root), as
into HTML. Not into SVG documents: Chromium runs their scripts, but the runtime is written for
HTML documents (head, body, forms); their static URLs are all mapped here, and the CSP keeps
what their scripts build from leaving the proxy space.

Output is UTF-8 with an XML declaration saying so (``standalone`` kept); a ``charset`` from the
Content-Type header wins over the document's own declaration, as RFC 7303 says.
Pure: no I/O, no state between calls.
"""

from __future__ import annotations

import html as _entities
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from lxml import etree

from rewriter.charset import REPLACEMENT, decode_text, lookup
from rewriter.css import rewrite_css
from rewriter.html import PageContext, rewrite_html, rewrite_html_text
from rewriter.html_tables import DROPPED_HTTP_EQUIV, Kind, rules_for
from rewriter.html_values import PLAIN_URL, is_relative
from rewriter.refresh import rewrite_refresh
from rewriter.space import REFUSED
from rewriter.srcset import rewrite_srcset
from rewriter.urls import resolve
from rewriter.xml_tables import (
    ANY_ATTRS,
    ELEMENT_ATTRS,
    NAMESPACE_ATTRS,
    STYLESHEET_PI,
    STYLESHEETS,
    TEXT_URLS,
    XHTML,
    XML_BASE,
)

__all__ = ["rewrite_xml"]

_CSS_HINT: Final = re.compile(r"url|image-set|@import|\\", re.I)
_PI_HREF: Final = re.compile(r"""(\bhref[ \t\r\n]*=[ \t\r\n]*)(?:"([^"]*)"|'([^']*)')""")
_CONTENT_CHARSET: Final = re.compile(r"(charset[\t\n\f\r ]*=[\t\n\f\r ]*)[^\t\n\f\r ;\"']*", re.I)
_NON_SPACE: Final = re.compile(r"[^\t\n\f\r ]+")
_XHTML_HEAD: Final = f"{{{XHTML}}}head"
_TEXT_ELEMENTS: Final = TEXT_URLS | STYLESHEETS
_HAS_XML_BASE: Final = etree.XPath("boolean(//@xml:base)")
_WITH_ATTRIBUTES: Final = etree.XPath("//*[@*]")
_XHTML_META: Final = f"{{{XHTML}}}meta"


def _parser(encoding: str | None = None) -> etree.XMLParser:
    return etree.XMLParser(encoding=encoding, resolve_entities=False, load_dtd=False, no_network=True,
                           dtd_validation=False, huge_tree=False, strip_cdata=False, remove_comments=False,
                           remove_pis=False, remove_blank_text=False, recover=False)


def rewrite_xml(body: bytes, ctx: PageContext, charset: str | None = None) -> bytes:
    """The rewritten document, UTF-8 encoded; see the module docstring for what fails open."""
    try:
        tree = _parse(body, charset)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        return _fallback(body, ctx, charset)
    _Rewriter(ctx).run(tree)
    # lxml reads a missing standalone as False: only a declared "yes" is written back.
    standalone = True if tree.docinfo.standalone else None
    out: bytes = etree.tostring(tree, encoding="UTF-8", xml_declaration=True, standalone=standalone)
    return out


def _parse(body: bytes, charset: str | None) -> Any:
    codec = lookup(charset)
    parser = _parser()
    if codec is not None and codec != REPLACEMENT:
        # The header's charset wins over the declaration: decode, then parse the bytes as UTF-8.
        body = decode_text(body, codec).encode("utf-8")
        parser = _parser(encoding="utf-8")
    return etree.fromstring(body, parser).getroottree()


def _fallback(body: bytes, ctx: PageContext, charset: str | None) -> bytes:
    """An unparsable body: rendered documents through the HTML tokenizer, the rest unchanged."""
    head = body[:4096].lower()
    if b"http://www.w3.org/1999/xhtml" in head:
        return rewrite_html(body, ctx, charset)
    if b"<svg" in head:
        return rewrite_html(body, replace(ctx, inject=""), charset)
    return body


class _Rewriter:
    """One pass over one parsed document."""

    __slots__ = ("cache", "ctx")

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.cache: dict[tuple[str, str], str] = {}

    def url(self, value: str, base: str) -> str:
        if is_relative(value):
            return value  # relative URLs work unchanged on the proxy host
        # As in the HTML rewriter: "scheme://host[:port]" is mapped once per document and the
        # rest of the URL kept as written (nothing in it can change the origin).
        plain = PLAIN_URL.match(value)
        key = (plain.group() if plain else value, base)
        mapped = self.cache.get(key)
        if mapped is None:
            if plain:
                mapped = self.ctx.space.to_proxy(key[0] + "/", base)
                mapped = mapped if mapped == REFUSED else mapped[:-1]
            else:
                mapped = self.ctx.space.to_proxy(value, base)
            self.cache[key] = mapped
        return mapped + value[len(key[0]):] if plain and mapped != REFUSED else mapped

    def run(self, tree: Any) -> None:
        root = tree.getroot()
        for pi in root.itersiblings(preceding=True):
            if isinstance(pi, etree._ProcessingInstruction) and pi.target == STYLESHEET_PI and pi.text:
                pi.text = _PI_HREF.sub(lambda m: self.pi_href(m, self.ctx.url), pi.text)
        if not _HAS_XML_BASE(root):
            # One base for the whole document: lxml finds the few elements with work in C.
            base = self.ctx.url
            for el in _WITH_ATTRIBUTES(root):
                self.attributes_of(el, base)
            for el in root.iter(*_TEXT_ELEMENTS):
                self.text_of(el, base)
        else:
            stack: list[tuple[Any, str]] = [(root, self.ctx.url)]
            while stack:
                el, base = stack.pop()
                base = self.attributes_of(el, base)
                self.text_of(el, base)
                stack.extend((child, base) for child in reversed(el) if isinstance(child.tag, str))
        if root.tag == f"{{{XHTML}}}html" or (root.tag == "html" and root.nsmap.get(None) == XHTML):
            self.inject(root)

    def pi_href(self, m: re.Match[str], base: str) -> str:
        quote = '"' if m.group(2) is not None else "'"
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        new = self.url(_entities.unescape(raw), base)
        escaped = new.replace("&", "&amp;").replace(quote, "&quot;" if quote == '"' else "&#39;")
        return f"{m.group(1)}{quote}{escaped}{quote}"

    def attributes_of(self, el: Any, base: str) -> str:
        """Rewrite one element's attributes; return the base for its content."""
        tag: str = el.tag
        xml_base = el.get(XML_BASE)
        if xml_base is not None:
            el.set(XML_BASE, self.url(xml_base, base))
            base = resolve(xml_base, base) or base
        ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if ns == XHTML:
            self.xhtml(el, local, base)
        else:
            rules = ELEMENT_ATTRS.get(tag) or NAMESPACE_ATTRS.get(ns)
            self.attributes(el, rules, base)
        return base

    def text_of(self, el: Any, base: str) -> None:
        """Rewrite the text of an element whose text is a URL or a stylesheet."""
        tag = el.tag
        if tag in TEXT_URLS and el.text and len(el) == 0:
            el.text = self.text_url(el.text, base)
        elif tag in STYLESHEETS and el.text and _CSS_HINT.search(el.text):
            el.text = rewrite_css(el.text, lambda u: self.url(u, base))

    def attributes(self, el: Any, rules: Mapping[str, Kind] | None, base: str) -> None:
        for name, value in el.items():
            kind = ANY_ATTRS.get(name) if rules is None else rules.get(name, ANY_ATTRS.get(name))
            if kind is None or name == XML_BASE:
                continue
            new = self.value(kind, value, base, "")
            if new is None:
                del el.attrib[name]
            elif new != value:
                el.set(name, new)

    def xhtml(self, el: Any, local: str, base: str) -> None:
        equiv = (el.get("http-equiv") or "").strip().lower() if el.tag == _XHTML_META else ""
        if equiv in DROPPED_HTTP_EQUIV:
            _remove(el)
            return
        rules = rules_for(local)
        for name, value in el.items():
            kind = rules.get(name) or ANY_ATTRS.get(name)
            if kind is None or name == XML_BASE:
                continue
            new = self.value(kind, value, base, equiv)
            if new is None:
                del el.attrib[name]
            elif new != value:
                el.set(name, new)

    def value(self, kind: Kind, value: str, base: str, equiv: str) -> str | None:
        """New value of one attribute; None drops it."""
        to_proxy: Callable[[str], str] = lambda u: self.url(u, base)  # noqa: E731
        if kind is Kind.URL:
            return to_proxy(value)
        if kind is Kind.CSS:
            return rewrite_css(value, to_proxy) if _CSS_HINT.search(value) else value
        if kind is Kind.SRCSET:
            return rewrite_srcset(value, to_proxy)
        if kind is Kind.URL_LIST:
            return _NON_SPACE.sub(lambda m: to_proxy(m.group()), value)
        if kind is Kind.DROP:
            return None
        if kind is Kind.CHARSET:
            return "utf-8"
        if kind is Kind.META_CONTENT:
            if equiv == "refresh":
                return rewrite_refresh(value, to_proxy)
            return _CONTENT_CHARSET.sub(r"\g<1>utf-8", value) if equiv == "content-type" else value
        if kind is Kind.HTML:
            return rewrite_html_text(value, replace(self.ctx, url=base))
        return value

    def text_url(self, text: str, base: str) -> str:
        core = text.strip()
        if not core:
            return text
        start = text.index(core)
        return text[:start] + self.url(core, base) + text[start + len(core):]

    def inject(self, root: Any) -> None:
        """The runtime ``<script>`` as the first child of ``<head>`` (else of the root)."""
        if not self.ctx.inject:
            return
        try:
            parsed = etree.fromstring(self.ctx.inject, _parser())
        except etree.XMLSyntaxError:
            return
        script = etree.Element(f"{{{XHTML}}}{parsed.tag}", dict(parsed.attrib))
        script.text = parsed.text or ""  # <script></script>, never <script/>
        head = root.find(_XHTML_HEAD)
        (head if head is not None else root).insert(0, script)


def _remove(el: Any) -> None:
    """Remove an element, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    previous = el.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)

