"""New values for what ``html_tables`` names: one attribute value, or a raw-text element's content.

The tokenizers (``html_lol``, the compiled one; ``html_regex``, the previous one) find the
attributes and raw text; this module alone decides what they become, so both rewrite alike.
``DocumentValues`` holds one document's state: its base URL (a ``<base href>`` moves it, the
first one only, as in browsers) and a cache of mapped origins.

Values come in entity-decoded and go out as plain text (the tokenizer escapes them).
``None`` from ``value`` drops the attribute; from ``raw_text`` it keeps the content as it is.
"""

from __future__ import annotations

import html as _entities
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from rewriter.html_tables import JAVASCRIPT_SCHEME, Kind
from rewriter.importmap import rewrite_importmap
from rewriter.js import may_rewrite_text, rewrite_js_body
from rewriter.js_tables import JS_MIME_TYPES
from rewriter.refresh import rewrite_refresh
from rewriter.space import REFUSED
from rewriter.srcset import rewrite_srcset
from rewriter.urls import resolve

if TYPE_CHECKING:
    from rewriter.page import PageContext

MAX_SRCDOC_DEPTH = 4

WS = "\t\n\f\r "
PLAIN_URL = re.compile(r"(?:[hH][tT][tT][pP][sS]?:)?//[a-zA-Z0-9.-]++(?::[0-9]{1,5})?(?=[/?#]|\Z)")
# Surely relative (no scheme, not "//" even after the tab and backslash clean-up URL
# parsers do): ProxySpace.to_proxy would return it as it is.
_RELATIVE = re.compile(r"[^\x00-\x20a-zA-Z/\\]|/(?![/\\\x00-\x20])|[a-zA-Z][^\x00-\x20:/?#\\]*+(?:[/?#]|\Z)")
is_relative = _RELATIVE.match
_NON_SPACE = re.compile(rf"[^{WS}]++")
# "javascript:" as a URL parser reads it: leading C0 and spaces dropped, tabs and newlines anywhere.
_JAVASCRIPT_URL = re.compile(
    r"[\x00-\x20]*+" + "".join(f"[{c}{c.upper()}][\t\n\r]*+" for c in JAVASCRIPT_SCHEME[:-1]) + ":"
)
_CONTENT_CHARSET = re.compile(r"(charset[\t\n\f\r ]*+=[\t\n\f\r ]*+)[^\t\n\f\r ;\"']*+", re.I)
# A CSS value needs the CSS rewriter only if it may hold a URL (escapes can spell url).
_CSS_HINT = re.compile(r"url|image-set|@import|\\", re.I)

# Rewrites a nested document (iframe[srcdoc]): (text, context, depth) -> text.
Nested = Callable[[str, "PageContext", int], str]


class DocumentValues:
    """The values of one document; holds its base URL and a per-document cache."""

    __slots__ = ("base", "base_seen", "cache", "ctx", "depth", "nested", "space")

    def __init__(self, ctx: PageContext, depth: int, nested: Nested) -> None:
        self.ctx = ctx
        self.space = ctx.space
        self.base = ctx.url
        self.depth = depth
        self.nested = nested
        self.cache: dict[str, str] = {}  # URL, or plain URL's origin part -> proxy form
        self.base_seen = False

    def url(self, value: str) -> str:
        if is_relative(value):
            return value  # relative URLs work unchanged on the proxy host
        plain = PLAIN_URL.match(value)
        if plain is None and (script := _JAVASCRIPT_URL.match(value)) is not None:
            return self.javascript_url(value, script.end())
        # Most URLs start "scheme://host[:port]" then "/", "?", "#" or nothing: the space maps
        # that origin once per document and the rest is kept as is. A browser reads the rest
        # the same whether or not to_proxy would have tidied it (tabs, backslashes), and
        # nothing in it can change the origin.
        key = plain.group() if plain else value
        mapped = self.cache.get(key)
        if mapped is None:
            mapped = self.space.to_proxy(key + "/", self.base) if plain else self.space.to_proxy(value, self.base)
            mapped = mapped[:-1] if plain and mapped != REFUSED else mapped
            self.cache[key] = mapped
        return mapped + value[len(key) :] if plain and mapped != REFUSED else mapped

    def attribute(self, lname: str, kind: Kind, raw: str, equiv: str) -> str | None:
        """New value of attribute ``raw`` (as written, entities and all) of a ``lname`` element:
        ``raw`` itself (the very object) when it stays, None to drop it."""
        value = _entities.unescape(raw) if "&" in raw else raw
        if kind is Kind.URL and is_relative(value) and lname != "base":
            return raw  # the common case, kept out of the calls below
        if lname == "base" and kind is Kind.URL and not self.base_seen:
            new: str | None = self.base_href(value)
        else:
            new = self.value(kind, value, equiv)
        return raw if new == value else new

    def base_href(self, value: str) -> str:
        """The first ``<base href>``: mapped against the document URL, then the base moves."""
        new = self.url(value)
        self.base_seen = True
        self.base = resolve(value, self.base) or self.base
        self.cache.clear()
        return new

    def value(self, kind: Kind, value: str, equiv: str) -> str | None:
        """New value of one attribute; None drops the attribute. ``equiv``: a ``<meta>``'s
        http-equiv (lower case, stripped), else ""."""
        if kind is Kind.URL:
            return self.url(value)
        if kind is Kind.SRCSET:
            return rewrite_srcset(value, self.url)
        if kind is Kind.CSS:
            return self.css(value) or value
        if kind is Kind.URL_LIST:
            return _NON_SPACE.sub(lambda m: self.url(m.group()), value)
        if kind is Kind.META_CONTENT:
            if equiv == "refresh":
                return rewrite_refresh(value, self.url)
            if equiv == "content-type":
                return _CONTENT_CHARSET.sub(r"\g<1>utf-8", value)
            return value
        if kind is Kind.SCRIPT:
            return self.script_body(value)
        if kind is Kind.CHARSET:
            return "utf-8"
        if kind is Kind.HTML:
            if self.depth >= MAX_SRCDOC_DEPTH:
                return None
            return self.nested(value, replace(self.ctx, url=self.base), self.depth + 1)
        return value

    def raw_text(self, lname: str, script_type: str | None, content: str) -> str | None:
        """New content of a raw-text element, or None to keep it. ``script_type``: a
        ``<script>``'s first ``type`` attribute, None without one."""
        if lname == "style":
            return self.css(content)
        if lname != "script":
            return None
        kind = (script_type or "").strip(WS).lower()
        if kind == "importmap":
            return rewrite_importmap(content, self.url)
        if self.ctx.js is not None and may_rewrite_text(content):
            module = script_runs_as(kind)
            if module is not None:
                new = self.ctx.js(content, module)
                return None if new == content else new
        return None

    def script_body(self, value: str) -> str:
        """An event-handler attribute's code, its ``location`` reads routed through the runtime."""
        if self.ctx.js is None or not may_rewrite_text(value):
            return value
        return (self.ctx.js_body or rewrite_js_body)(value)

    def javascript_url(self, value: str, code_at: int) -> str:
        """A ``javascript:`` URL: its code, percent-decoded as the browser runs it, rewritten
        as a classic script and percent-encoded again (only ``%`` needs it)."""
        raw = value[code_at:]
        if self.ctx.js is None or (not may_rewrite_text(raw) and "%" not in raw):
            return value
        try:
            code = unquote(raw, errors="strict") if "%" in raw else raw
        except UnicodeDecodeError:  # not UTF-8 once decoded: left as the page wrote it
            return value
        if not may_rewrite_text(code):
            return value
        new = self.ctx.js(code, False)
        return value if new == code else value[:code_at] + new.replace("%", "%25")

    def css(self, value: str) -> str | None:
        if not _CSS_HINT.search(value):
            return None
        from rewriter.css import rewrite_css  # css.py is its own module; imported when needed

        new = rewrite_css(value, self.url)
        return None if new == value else new


def http_equiv(raw: str | None) -> str:
    """A ``<meta>``'s http-equiv as written (None: absent), as compared: decoded, trimmed, lower case."""
    return _entities.unescape(raw or "").strip(WS).lower()


def script_runs_as(kind: str) -> bool | None:
    """What a ``<script>`` of this ``type`` (stripped, lower case) runs as: False classic,
    True module, None data."""
    if kind == "module":
        return True
    return False if not kind or kind in JS_MIME_TYPES else None
