"""HTML rewriting at the token level: URLs into the session's proxy space, all else untouched.

One compiled regex (``_TOKEN``) finds start tags, comments and declarations; the text between
them is skipped inside the regex engine. Python looks only at start tags that may carry a URL
(``html_tables``), parses their attributes with a second regex, and splices new values in.
Every byte it does not rewrite is copied through: nothing is parsed and re-serialised.

Tokenizer rules (the WHATWG tokenizer's, where they decide what is markup):
- A start tag runs to the first ``>`` outside a quoted attribute value; quotes count only
  right after ``=``, as in browsers.
- Comments end at ``-->`` or ``--!>`` (``<!-->`` and ``<!--->`` are empty comments); ``<!...>``
  and ``<?...>`` (doctype, CDATA in HTML, XML declaration) end at the first ``>``.
- The content of ``html_tables.RAW_TEXT`` elements is text up to ``</name`` followed by
  whitespace, ``/`` or ``>``; ``<style>`` content goes through ``rewriter.css`` and an import
  map's JSON is rewritten; ``plaintext`` runs to the end.
Where this scanner and a browser could differ (a script's double-escaped ``<!--<script>``,
raw-text rules inside SVG/MathML, an unterminated quote), the difference only makes the
scanner read as markup what a browser reads as text, so it may rewrite more, never less.

Attribute values are entity-decoded before mapping and re-escaped (original quote kept;
an unquoted value that would need quoting gets double quotes). Unchanged values are copied
byte for byte.

Runtime injection: ``ctx.inject`` goes immediately after the ``<head>`` start tag when the
document opens with ``<html>``/``<head>`` tags, else immediately before the first other start
tag, so it precedes every script, event-handler attribute and resource; a document with no
such tag gets it at the end. Parsers put a script found before ``<html>`` or ``<body>`` into
an implied ``<head>``, so documents without ``<head>`` or ``<html>`` are covered too.

Output is UTF-8; ``<meta charset>`` and ``http-equiv=content-type`` are changed to say so.
Time is linear in the input (possessive quantifiers, each raw-text end found by one search);
``iframe[srcdoc]`` recursion is capped at ``MAX_SRCDOC_DEPTH`` (deeper ones are dropped).
"""

from __future__ import annotations

import html as _entities
import re
from bisect import insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from rewriter.charset import decode_html, detect_charset
from rewriter.html_tables import (
    DROPPED_HTTP_EQUIV,
    GLOBAL_ATTRS,
    HEAD_WRAPPERS,
    JAVASCRIPT_SCHEME,
    RAW_TEXT,
    TAG_RULES,
    Kind,
    attr_kind,
)
from rewriter.importmap import rewrite_importmap
from rewriter.js import may_rewrite_text, rewrite_js_body
from rewriter.js_tables import JS_MIME_TYPES
from rewriter.refresh import rewrite_refresh
from rewriter.space import REFUSED, ProxySpace
from rewriter.srcset import rewrite_srcset
from rewriter.urls import resolve

MAX_SRCDOC_DEPTH = 4

_WS = "\t\n\f\r "
_S = f"[{_WS}]"
_NAME_END = rf"(?![^{_WS}/>=])"  # the attribute name ends here
_VALUE = rf"""(?:{_S}*+={_S}*+(?:"([^"]*+)"|'([^']*+)'|([^{_WS}>]*+)))?"""


def _names(names: Iterable[str]) -> str:
    """A case-insensitive regex for a set of names, as a trie: sre tries alternatives one by
    one, so sharing prefixes keeps the per-tag cost of the lookaheads small."""
    heads: dict[str, list[str]] = {}
    for name in sorted({n.lower() for n in names}):
        heads.setdefault(name[:1], []).append(name[1:])
    optional = "" in heads
    branches = []
    for head, tails in heads.items():
        if not head:
            continue
        char = f"[{head}{head.upper()}]" if head.isalpha() else re.escape(head)
        rest = [t for t in tails if t]
        branches.append(char + (_names(rest) + ("?" if "" in tails else "") if rest else ""))
    body = "(?:" + "|".join(branches) + ")"
    return body + "?" if optional else body


# Tags Python must always see: raw-text ones (their end is found in Python), <meta>, <base>.
_SPECIAL_TAGS = _names(RAW_TEXT | {"meta", "base"})
# Every attribute some table names, event handlers (on<letters>), and those that hold one URL
# (the rest are lists, CSS...).
_URL_ATTRS = "(?:" + _names({a for rules in TAG_RULES.values() for a in rules}) + "|[oO][nN][a-zA-Z]++)"
_SINGLE_URL_ATTRS = _names({a for rules in TAG_RULES.values() for a, k in rules.items() if k is Kind.URL})
# One attribute as the tokenizer reads it: a name (may start with "="), then maybe a value.
_ONE_ATTR = rf"""[^{_WS}/>][^{_WS}/>=]*+(?:{_S}*+={_S}*+(?:"[^"]*+"|'[^']*+'|[^{_WS}>]*+))?"""
# Attribute text of a start tag: runs to the first ">" outside a quoted value.
_ATTRS = rf"(?:[{_WS}/]++|{_ONE_ATTR})*+"


def _kept_url(end: str) -> str:
    """A URL value ProxySpace.to_proxy surely leaves as it is, up to ``end`` (a character
    class): no entity, backslash, tab or newline, no leading space, not "//", no scheme."""
    head = rf"""(?:[^\x00-\x20a-zA-Z/\\&{end}]|/(?![/\\])|[a-zA-Z][^\x00-\x20:/?#\\&{end}]*+(?=[/?#{end}]))"""
    return rf"""(?:{head}[^\\&\t\n\r{end}]*+)?"""


_KEPT_UNQUOTED = _kept_url(">\"'" + _WS)  # quotes excluded: after "=" they open a quoted value
_KEPT_VALUE = rf"""{_S}*+={_S}*+(?:"{_kept_url('"')}"|'{_kept_url("'")}'|{_KEPT_UNQUOTED}(?![^{_WS}>]))"""
# A start tag Python need not see: not special, and every attribute a table names is a
# single-URL one whose value is relative (or absent). Most <a>, <img>, <link> are.
_BORING_TAG = rf"""<(?!{_SPECIAL_TAGS}[{_WS}/>])[a-zA-Z][^{_WS}/>]*+
    (?:[{_WS}/]++
      |(?!{_URL_ATTRS}{_NAME_END}){_ONE_ATTR}
      |{_SINGLE_URL_ATTRS}{_NAME_END}(?:{_KEPT_VALUE}|(?!{_S}*+=))
    )*+(?:>|\Z)"""
_COMMENT = r"<!--(?:-?>|.*?(?:--!?>|\Z))"
_DECLARATION = r"<[!?][^>]*+>?"  # doctype, CDATA in HTML, XML declaration, bogus comment
# Each match: a run the browser reads as text, comments or tags without URLs (skipped in
# C), then one start tag Python must see, or the end of the text. The skipping loop stops
# only before such a tag or at the end, so every search succeeds where it starts.
_TOKEN = re.compile(
    rf"""(?:[^<]++|<(?![a-zA-Z!?])|{_COMMENT}|{_DECLARATION}|{_BORING_TAG})*+
        (?:<([a-zA-Z][^{_WS}/>]*+)({_ATTRS})>?|\Z)""",
    re.S | re.X,
)
# Any start tag, comment or declaration: to find where the runtime goes.
_ANY_TAG = re.compile(rf"<(?:([a-zA-Z][^{_WS}/>]*+){_ATTRS}>?|!--(?:-?>|.*?(?:--!?>|\Z))|[!?][^>]*+>?)", re.S)
# Attributes of a tag Python sees: skips those no table names, yields the others (or the
# end, so that no search is retried from later positions).
_ATTR = re.compile(
    rf"""(?:[{_WS}/>]++|(?!{_URL_ATTRS}{_NAME_END}){_ONE_ATTR})*+
        (?:({_URL_ATTRS}){_NAME_END}{_VALUE}|\Z)""",
    re.X,
)
_ANY_ATTR = re.compile(rf"""([^{_WS}/>][^{_WS}/>=]*+){_VALUE}""")
_RAW_END = {name: re.compile(rf"</{name}[{_WS}/>]", re.I) for name in RAW_TEXT}
# A CSS value needs the CSS rewriter only if it may hold a URL (escapes can spell url).
_CSS_HINT = re.compile(r"url|image-set|@import|\\", re.I)
# One attribute with its value, for the few tags whose non-URL attributes matter (<script type>).
_ANY_ATTR = re.compile(rf"""[{_WS}/]*+([^{_WS}/>][^{_WS}/>=]*+){_VALUE}""")
_IMPORTMAP = re.compile(rf"""type[{_WS}]*+=[{_WS}]*+["']?[{_WS}]*+importmap""", re.I)
_PLAIN_URL = re.compile(r"(?:[hH][tT][tT][pP][sS]?:)?//[a-zA-Z0-9.-]++(?::[0-9]{1,5})?(?=[/?#]|\Z)")
# Surely relative (no scheme, not "//" even after the tab and backslash clean-up URL
# parsers do): ProxySpace.to_proxy would return it as it is.
_RELATIVE = re.compile(r"[^\x00-\x20a-zA-Z/\\]|/(?![/\\\x00-\x20])|[a-zA-Z][^\x00-\x20:/?#\\]*+(?:[/?#]|\Z)")
_is_relative = _RELATIVE.match
_NON_SPACE = re.compile(rf"[^{_WS}]++")
_NEEDS_QUOTES = re.compile(rf"""[{_WS}"'=<>`]""")
# "javascript:" as a URL parser reads it: leading C0 and spaces dropped, tabs and newlines anywhere.
_JAVASCRIPT_URL = re.compile(
    r"[\x00-\x20]*+" + "".join(f"[{c}{c.upper()}][\t\n\r]*+" for c in JAVASCRIPT_SCHEME[:-1]) + ":"
)
_CONTENT_CHARSET = re.compile(r"(charset[\t\n\f\r ]*+=[\t\n\f\r ]*+)[^\t\n\f\r ;\"']*+", re.I)


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


def rewrite_html(body: bytes, ctx: PageContext, charset: str | None = None) -> bytes:
    """The rewritten document, UTF-8 encoded. ``charset``: the Content-Type header's, if any."""
    text = decode_html(body, detect_charset(body, charset))
    return rewrite_html_text(text, ctx).encode("utf-8", "replace")


def rewrite_html_text(text: str, ctx: PageContext) -> str:
    """The same on decoded text (used for ``srcdoc`` and by callers that already decoded)."""
    return _Rewriter(ctx, 0).run(text)


class _Rewriter:
    """One pass over one document; holds the document's base URL and a per-document cache."""

    __slots__ = ("base", "base_seen", "cache", "ctx", "depth", "space")

    def __init__(self, ctx: PageContext, depth: int) -> None:
        self.ctx = ctx
        self.space = ctx.space
        self.base = ctx.url
        self.depth = depth
        self.cache: dict[str, str] = {}  # URL, or plain URL's origin part -> proxy form
        self.base_seen = False

    def url(self, value: str) -> str:
        if _is_relative(value):
            return value  # relative URLs work unchanged on the proxy host
        script = _JAVASCRIPT_URL.match(value)
        if script is not None:
            return self.javascript_url(value, script.end())
        # Most URLs start "scheme://host[:port]" then "/", "?", "#" or nothing: the space maps
        # that origin once per document and the rest is kept as is. A browser reads the rest
        # the same whether or not to_proxy would have tidied it (tabs, backslashes), and
        # nothing in it can change the origin.
        plain = _PLAIN_URL.match(value)
        key = plain.group() if plain else value
        mapped = self.cache.get(key)
        if mapped is None:
            mapped = self.space.to_proxy(key + "/", self.base) if plain else self.space.to_proxy(value, self.base)
            mapped = mapped[:-1] if plain and mapped != REFUSED else mapped
            self.cache[key] = mapped
        return mapped + value[len(key) :] if plain and mapped != REFUSED else mapped

    def run(self, text: str) -> str:
        edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
        scan = 0
        search = _TOKEN.search
        while (m := search(text, scan)) is not None and (name := m.group(1)) is not None:
            scan = m.end()
            lname = name.lower()
            attrs = m.group(2)
            if self.attributes(lname, attrs, m.start(2), TAG_RULES.get(lname, GLOBAL_ATTRS), edits):
                edits.append((m.start(), scan, ""))
            if lname in RAW_TEXT:
                end = len(text) if lname == "plaintext" else _raw_end(text, lname, scan)
                content = self.raw_text(lname, attrs, text[scan:end])
                if content is not None:
                    edits.append((scan, end, content))
                scan = end
        insort(edits, (_inject_at(text), -1, self.ctx.inject))
        out: list[str] = []
        pos = 0
        for start, end, new in edits:
            out.append(text[pos:start])
            out.append(new)
            pos = max(start, end)
        out.append(text[pos:])
        return "".join(out)

    def raw_text(self, lname: str, attrs: str, content: str) -> str | None:
        """New content of a raw-text element, or None to keep it."""
        if lname == "style":
            return self.css(content)
        if lname == "script" and _IMPORTMAP.search(attrs):
            return rewrite_importmap(content, self.url)
        if lname == "script" and self.ctx.js is not None and may_rewrite_text(content):
            module = _script_is_module(attrs)
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

    def attributes(
        self, lname: str, attrs: str, offset: int, rules: Mapping[str, Kind], edits: list[tuple[int, int, str]]
    ) -> bool:
        """Add the edits of one start tag's attributes; True if the whole tag is to go."""
        equiv = _http_equiv(attrs) if lname == "meta" else ""
        if equiv in DROPPED_HTTP_EQUIV:
            return True
        for a in _ATTR.finditer(attrs):
            aname, double, single, bare = a.groups()
            if aname is None:
                break
            kind = attr_kind(rules, aname.lower())
            if kind is None:
                continue
            if kind is Kind.DROP:
                edits.append((offset + a.start(1), offset + a.end(), ""))
                continue
            if double is not None:
                group, raw = 2, double
            elif single is not None:
                group, raw = 3, single
            elif bare is not None:
                group, raw = 4, bare
            else:
                continue  # attribute without a value
            value = _entities.unescape(raw) if "&" in raw else raw
            if kind is Kind.URL and _is_relative(value) and lname != "base":
                continue  # the common case, kept out of the calls below
            if lname == "base" and kind is Kind.URL and not self.base_seen:
                new: str | None = self.url(value)  # against the document URL, then rebases
                self.base_seen = True
                self.base = resolve(value, self.base) or self.base
                self.cache.clear()
            else:
                new = self.value(kind, value, equiv)
            if new is None:
                edits.append((offset + a.start(1), offset + a.end(), ""))
            elif new != value:
                quote = "" if group == 4 else attrs[a.start(group) - 1]
                start, end = offset + a.start(group) - len(quote), offset + a.end(group) + len(quote)
                edits.append((start, end, _quoted(new, quote)))
        return False

    def value(self, kind: Kind, value: str, equiv: str) -> str | None:
        """New value of one attribute; None drops the attribute."""
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
            return _Rewriter(replace(self.ctx, url=self.base), self.depth + 1).run(value)
        return value

def _inject_at(text: str) -> int:
    """Where the runtime goes: after leading <html>/<head> tags, before any other tag."""
    after = -1
    for m in _ANY_TAG.finditer(text):
        name = m.group(1)
        if name is None:
            continue
        lname = name.lower()
        if lname not in HEAD_WRAPPERS:
            return after if after >= 0 else m.start()
        if lname == "head" or after < 0:
            after = m.end()
    return after if after >= 0 else len(text)


def _script_is_module(attrs: str) -> bool | None:
    """What a ``<script>`` with these attributes runs as: False classic, True module, None data."""
    for a in _ANY_ATTR.finditer(attrs):
        if a.group(1).lower() == "type":
            value = (a.group(2) or a.group(3) or a.group(4) or "").strip(_WS).lower()
            if value == "module":
                return True
            return False if not value or value in JS_MIME_TYPES else None
    return False


def _raw_end(text: str, lname: str, start: int) -> int:
    found = _RAW_END[lname].search(text, start)
    return len(text) if found is None else found.start()


def _http_equiv(attrs: str) -> str:
    for a in _ANY_ATTR.finditer(attrs):
        if a.group(1).lower() == "http-equiv":
            raw = a.group(2) or a.group(3) or a.group(4) or ""
            return _entities.unescape(raw).strip(_WS).lower()
    return ""


def _quoted(value: str, quote: str) -> str:
    value = value.replace("&", "&amp;")
    if quote == "'":
        return "'" + value.replace("'", "&#39;") + "'"
    if quote == "" and value and not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace('"', "&quot;") + '"'
