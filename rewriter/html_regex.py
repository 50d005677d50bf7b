"""The previous HTML rewriter: a regex tokenizer, kept as the reference the compiled one
(``html_lol``) is measured against (``bench/bench_rewrite.py``) and compared with in tests.

One compiled regex (``_TOKEN``) finds start tags, comments and declarations; the text between
them is skipped inside the regex engine. Python looks only at start tags that may carry a URL
(``html_tables``), parses their attributes with a second regex, and splices new values in
(``html_values`` decides them). Every byte it does not rewrite is copied through.

Tokenizer rules (the WHATWG tokenizer's, where they decide what is markup):
- A start tag runs to the first ``>`` outside a quoted attribute value; quotes count only
  right after ``=``, as in browsers.
- Comments end at ``-->`` or ``--!>`` (``<!-->`` and ``<!--->`` are empty comments); ``<!...>``
  and ``<?...>`` (doctype, CDATA in HTML, XML declaration) end at the first ``>``.
- The content of ``html_tables.RAW_TEXT`` elements is text up to ``</name`` followed by
  whitespace, ``/`` or ``>``; ``plaintext`` runs to the end.
Where this scanner and a browser could differ (a script's double-escaped ``<!--<script>``,
raw-text rules inside SVG/MathML, an unterminated quote), the difference only makes the
scanner read as markup what a browser reads as text, so it may rewrite more, never less.
Attribute values keep their quotes (an unquoted value that would need quoting gets double
quotes); unchanged values are copied byte for byte. Time is linear in the input.
"""

from __future__ import annotations

import re
from bisect import insort
from collections.abc import Iterable, Mapping

from rewriter.charset import decode_html, detect_charset
from rewriter.html_inject import inject_at
from rewriter.html_tables import DROPPED_HTTP_EQUIV, GLOBAL_ATTRS, RAW_TEXT, TAG_RULES, Kind, attr_kind
from rewriter.html_values import DocumentValues, http_equiv
from rewriter.page import PageContext


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


_WS = "\t\n\f\r "
_S = f"[{_WS}]"
_NAME_END = rf"(?![^{_WS}/>=])"  # the attribute name ends here
_VALUE = rf"""(?:{_S}*+={_S}*+(?:"([^"]*+)"|'([^']*+)'|([^{_WS}>]*+)))?"""


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
# Attributes of a tag Python sees: skips those no table names, yields the others (or the
# end, so that no search is retried from later positions).
_ATTR = re.compile(
    rf"""(?:[{_WS}/>]++|(?!{_URL_ATTRS}{_NAME_END}){_ONE_ATTR})*+
        (?:({_URL_ATTRS}){_NAME_END}{_VALUE}|\Z)""",
    re.X,
)
_RAW_END = {name: re.compile(rf"</{name}[{_WS}/>]", re.I) for name in RAW_TEXT}
# One attribute with its value, for the few tags whose non-URL attributes matter (<script type>).
_ANY_ATTR = re.compile(rf"""[{_WS}/]*+([^{_WS}/>][^{_WS}/>=]*+){_VALUE}""")
_NEEDS_QUOTES = re.compile(rf"""[{_WS}"'=<>`]""")


def rewrite_html_regex(body: bytes, ctx: PageContext, charset: str | None = None) -> bytes:
    """The rewritten document, UTF-8 encoded. ``charset``: the Content-Type header's, if any."""
    text = decode_html(body, detect_charset(body, charset))
    return rewrite_text_regex(text, ctx).encode("utf-8", "replace")


def rewrite_text_regex(text: str, ctx: PageContext, depth: int = 0) -> str:
    """The same on decoded text."""
    return _Rewriter(DocumentValues(ctx, depth, rewrite_text_regex)).run(text)


class _Rewriter:
    """One pass over one document."""

    __slots__ = ("values",)

    def __init__(self, values: DocumentValues) -> None:
        self.values = values

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
                content = self.values.raw_text(lname, _attr_value(attrs, "type"), text[scan:end])
                if content is not None:
                    edits.append((scan, end, content))
                scan = end
        at = inject_at(text, True)
        assert at is not None
        insort(edits, (at, -1, self.values.ctx.inject))
        out: list[str] = []
        pos = 0
        for start, end, new in edits:
            out.append(text[pos:start])
            out.append(new)
            pos = max(start, end)
        out.append(text[pos:])
        return "".join(out)

    def attributes(
        self, lname: str, attrs: str, offset: int, rules: Mapping[str, Kind], edits: list[tuple[int, int, str]]
    ) -> bool:
        """Add the edits of one start tag's attributes; True if the whole tag is to go."""
        equiv = http_equiv(_attr_value(attrs, "http-equiv")) if lname == "meta" else ""
        if equiv in DROPPED_HTTP_EQUIV:
            return True
        values = self.values
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
            new = values.attribute(lname, kind, raw, equiv)
            if new is None:
                edits.append((offset + a.start(1), offset + a.end(), ""))
            elif new is not raw:
                quote = "" if group == 4 else attrs[a.start(group) - 1]
                start, end = offset + a.start(group) - len(quote), offset + a.end(group) + len(quote)
                edits.append((start, end, _quoted(new, quote)))
        return False


def _raw_end(text: str, lname: str, start: int) -> int:
    found = _RAW_END[lname].search(text, start)
    return len(text) if found is None else found.start()


def _attr_value(attrs: str, name: str) -> str | None:
    """The raw value of a tag's first attribute called ``name``."""
    for a in _ANY_ATTR.finditer(attrs):
        if a.group(1).lower() == name:
            return a.group(2) or a.group(3) or a.group(4) or ""
    return None


def _quoted(value: str, quote: str) -> str:
    value = value.replace("&", "&amp;")
    if quote == "'":
        return "'" + value.replace("'", "&#39;") + "'"
    if quote == "" and value and not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace('"', "&quot;") + '"'
