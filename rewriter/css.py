"""CSS rewriting: point every URL a stylesheet fetches into the session's proxy space.

The job: find the few tokens of CSS that name a resource to fetch (``url()`` in all its
quoting and escaping forms, the string of ``@import``, the bare strings of ``image-set()``)
and replace the URL inside them with what ``to_proxy`` returns; drop source-map comments.

Invariants:

* Everything else passes through byte for byte. A URL that ``to_proxy`` leaves unchanged
  (relative, ``data:``...) is not touched either, however it was spelled.
* Tokens are found as a browser's CSS tokenizer (CSS Syntax Level 3) finds them, so a
  ``url(`` inside a comment or a string is left alone and an escaped URL is understood:
  ``url(ht\\74p://a.com/)`` names ``http://a.com/``. A URL that needed unescaping is written
  back as a double-quoted string, escaped for CSS.
* ``@namespace`` URLs are identifiers, not fetches: never rewritten.
* Linear time on any input. One anchored, possessive regex (``_SKIP``) runs in C over
  everything uninteresting, strings and comments included, and stops only where Python has
  work to do: a function or at-rule we handle, a backslash outside strings, a source-map
  comment. Every sub-pattern is possessive or always succeeds, so nothing backtracks, and
  each stop consumes at least one character.

Pure: no I/O, no state between calls.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Final

from rewriter.charset import decode_text, lookup

__all__ = ["decode_css", "rewrite_css", "rewrite_css_bytes"]

ToProxy = Callable[[str], str]

# Functions whose bare string arguments (at their own nesting level) are URLs to fetch.
_STRING_URL_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})
# Every function we stop at, longest first so "-webkit-image-set" wins over "image-set".
_FUNCTIONS = tuple(sorted({"url", *_STRING_URL_FUNCTIONS}, key=len, reverse=True))
# At-rules whose prelude we read: @import's string is a fetch, @namespace's is a name.
_AT_RULES = ("import", "namespace")
_LONGEST_NAME = max(len(n) for n in (*_FUNCTIONS, *_AT_RULES))

_WS = r"[ \t\n\r\f]"
_IDENT_CHAR = r"[\w\-\x80-\U0010ffff]"
# A character that, right before "url(", makes it part of another token ("xurl(", "#url(").
_JOINS = r"[\w\-\x80-\U0010ffff\\#@]"
_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?|[^\n\r\f0-9a-fA-F])"
_COMMENT_REST = r"(?:[^*]++|\*(?!/))*+(?:\*/)?"
_SOURCE_MAP = r"[#@]\s*+sourceMappingURL\s*+="
# Inside strings a hex escape also swallows one whitespace (a CRLF too), and "\" + newline
# is a line continuation.
_STRING_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?|\r\n|[\s\S])?"
_STRINGS = {q: rf"{q}(?:[^{q}\\\n\r\f]++|{_STRING_ESCAPE})*+{q}?" for q in "\"'"}
_AT_RULE = rf"(?i:{'|'.join(_AT_RULES)})(?!{_IDENT_CHAR}|\\)"
# "(" is uninteresting unless it ends one of our function names at an identifier's start.
# The first alternative is a quick exit for the usual "(" (after "var", "rgba"...).
_LAST_LETTERS = "".join(sorted({c for n in _FUNCTIONS for c in (n[-1].lower(), n[-1].upper())}))
_PLAIN_PAREN = rf"\((?<![{_LAST_LETTERS}]\()|\(" + "".join(
    rf"(?:(?<!(?i:{re.escape(n)})\()|(?<={_JOINS}(?i:{re.escape(n)})\())" for n in _FUNCTIONS
)
_PLAIN_COMMENT = rf"/\*(?!{_SOURCE_MAP}){_COMMENT_REST}"
# "\" before a newline escapes nothing: a lone delimiter, skipped without stopping.
_LONE_BACKSLASH = r"\\(?=[\n\r\f])"

# Top level: strings are skipped whole; stops at "\", "@import"/"@namespace", our functions'
# "(", source-map comments, or the end.
_SKIP = re.compile(
    rf"""(?:[^/"'\\(@]++|/(?!\*)|{_PLAIN_COMMENT}|{_STRINGS['"']}|{_STRINGS["'"]}|{_PLAIN_PAREN}|@(?!{_AT_RULE})|{_LONE_BACKSLASH})*+"""
)
# Inside a string-URL function: strings and parentheses are counted, so stop at them too.
_SKIP_NESTED = re.compile(rf"""(?:[^/"'\\()@]++|/(?!\*)|{_PLAIN_COMMENT}|@(?!{_AT_RULE})|{_LONE_BACKSLASH})*+""")

_STRING_BODY = {q: re.compile(rf"(?:[^{q}\\\n\r\f]++|{_STRING_ESCAPE})*+") for q in "\"'"}
_SKIP_WS = re.compile(rf"{_WS}*+")
_SKIP_WS_COMMENTS = re.compile(rf"(?:{_WS}++|/\*{_COMMENT_REST})*+")
_COMMENT_END = re.compile(rf"/\*{_COMMENT_REST}")
# The body of an unquoted url token, then ")" (or the end of the text, which closes it too).
_URL_UNQUOTED = re.compile(rf"""((?:[^"'()\\ \t\n\r\f\x01-\x08\x0b\x0e-\x1f\x7f]++|{_ESCAPE})*+){_WS}*+(?:\)|\Z)""")
# A bad url: the browser skips to the next ")" honouring escapes; so do we.
_BAD_URL_REST = re.compile(r"(?:[^)\\]++|\\[\s\S]?)*+\)?")
_URL_OPEN = re.compile(r"(?i:url)\(")
_IDENT = re.compile(rf"(?:{_IDENT_CHAR}++|{_ESCAPE})++")
_UNESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|([\s\S])|\Z)")
# A rewritten URL holding one of these cannot stand unquoted (or as-is in a string): quote it.
_UNSAFE_UNQUOTED = re.compile(r"""["'()\\\s\x00-\x1f\x7f]""")
_UNSAFE_IN_STRING = re.compile(r"""["'\\\x00-\x1f\x7f]""")
_QUOTE_ESCAPES = re.compile(r"""["\\\x00-\x1f\x7f]""")


def rewrite_css(text: str, to_proxy: ToProxy) -> str:
    """Rewrite the fetchable URLs of a stylesheet (or of a ``style`` attribute's text).

    ``to_proxy`` maps one URL string; whatever it returns unchanged stays byte for byte.
    """
    first_stop = _SKIP.match(text).end()  # type: ignore[union-attr]
    if first_stop == len(text):
        return text
    return _Pass(text, to_proxy).run(first_stop)


class _Pass:
    """One pass over one text.

    ``out`` collects output pieces; ``last`` is where input not yet copied to ``out`` starts;
    ``floor`` is where the last token Python consumed ends (a function name must start at or
    after it); ``depths`` holds the parenthesis depth inside each open string-URL function,
    innermost last (its strings are URLs only at depth 1).
    """

    __slots__ = ("depths", "floor", "last", "out", "text", "to_proxy")

    def __init__(self, text: str, to_proxy: ToProxy) -> None:
        self.text = text
        self.to_proxy = to_proxy
        self.out: list[str] = []
        self.last = 0
        self.floor = 0
        self.depths: list[int] = []

    def run(self, pos: int) -> str:
        """Rewrite from ``pos``, the first place where the scan stopped."""
        text, end = self.text, len(self.text)
        while pos < end:
            pos = _STOPS[text[pos]](self, pos)
            self.floor = pos
            pos = (_SKIP_NESTED if self.depths else _SKIP).match(text, pos).end()  # type: ignore[union-attr]
        if not self.out:
            return text
        self.out.append(text[self.last :])
        return "".join(self.out)

    # -- stops: each takes the position of the character that stopped the scan and
    #    returns the position after what it consumed (always further on) ------------------

    def _comment(self, pos: int) -> int:
        """Only source-map comments stop the scan (other comments are skipped in C).

        The comment becomes an empty one, not nothing: a comment separates tokens, and
        removing it could join the text on either side into a new token."""
        end = _COMMENT_END.match(self.text, pos).end()  # type: ignore[union-attr]
        self._replace(pos, end, "/**/")
        return end

    def _quote_char(self, pos: int) -> int:
        """A string inside a string-URL function (top-level strings never stop the scan)."""
        return self._string(pos, rewrite=self.depths[-1] == 1)

    def _open(self, pos: int) -> int:
        name = self._function_ending_at(pos)
        if name == "url":
            return self._url(pos + 1, rewrite=True)
        if name is not None:
            self.depths.append(1)
        elif self.depths:
            self.depths[-1] += 1
        return pos + 1

    def _close(self, pos: int) -> int:
        self.depths[-1] -= 1
        if self.depths[-1] == 0:
            self.depths.pop()
        return pos + 1

    def _at(self, pos: int) -> int:
        name = next(n for n in _AT_RULES if self.text[pos + 1 : pos + 1 + len(n)].lower() == n)
        return self._at_rule(name, pos + 1 + len(name))

    def _backslash(self, pos: int) -> int:
        """A backslash outside strings escapes a character of an identifier (``.sm\\:flex``,
        or an obfuscated ``u\\72l(``). Consume the whole identifier; if it spells one of our
        functions or at-rules, handle that."""
        text = self.text
        start, limit = pos, max(self.floor, pos - _LONGEST_NAME)
        while start > limit and _is_ident_char(text[start - 1]):
            start -= 1
        m = _IDENT.match(text, start)
        if m is None or m.end() <= pos:
            return pos + 1  # "\" before a newline or the end: a lone delimiter
        end = m.end()
        if (start > 0 and _is_ident_char(text[start - 1])) or end - start > 9 * _LONGEST_NAME:
            return end  # too long to spell any of our names
        name = _unescape(m.group()).lower()
        before = text[start - 1] if start > 0 else ""
        if before == "@":
            return self._at_rule(name, end) if name in _AT_RULES else end
        if before == "#" or not text.startswith("(", end):
            return end
        if name == "url":
            return self._url(end + 1, rewrite=True)
        if name in _STRING_URL_FUNCTIONS:
            self.depths.append(1)
        elif self.depths:
            self.depths[-1] += 1
        return end + 1

    # -- tokens -------------------------------------------------------------------------

    def _function_ending_at(self, paren: int) -> str | None:
        """Which of our function names ends at ``paren``, starting an identifier, or None."""
        text = self.text
        for name in _FUNCTIONS:
            start = paren - len(name)
            if (
                start >= self.floor
                and text[start:paren].lower() == name
                and (start == 0 or not _joins(text[start - 1]))
            ):
                return name
        return None

    def _string(self, pos: int, *, rewrite: bool) -> int:
        """Skip, or rewrite as a URL, the string token whose opening quote is at ``pos``."""
        text = self.text
        quote = text[pos]
        body_end = _STRING_BODY[quote].match(text, pos + 1).end()  # type: ignore[union-attr]
        closed = text.startswith(quote, body_end)
        end = body_end + 1 if closed else body_end
        if rewrite:
            raw = text[pos + 1 : body_end]
            escaped = "\\" in raw
            value = _unescape(raw) if escaped else raw
            new = self.to_proxy(value)
            if new != value:
                if escaped or _UNSAFE_IN_STRING.search(new):
                    quoted = _quote(new)
                    self._replace(pos, end, quoted if closed else quoted[:-1])
                else:
                    self._replace(pos + 1, body_end, new)
        return end

    def _url(self, pos: int, *, rewrite: bool) -> int:
        """After ``url(``: a string argument, an unquoted url token, or a bad url."""
        text = self.text
        pos = _SKIP_WS.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(('"', "'"), pos):
            if self.depths:
                self.depths[-1] += 1  # url("...") is a function token: its ")" is still to come
            return self._string(pos, rewrite=rewrite)
        m = _URL_UNQUOTED.match(text, pos)
        if m is None:
            return _BAD_URL_REST.match(text, pos).end()  # type: ignore[union-attr]
        raw = m.group(1)
        if raw and rewrite:
            escaped = "\\" in raw
            value = _unescape(raw) if escaped else raw
            new = self.to_proxy(value)
            if new != value:
                safe = not escaped and not _UNSAFE_UNQUOTED.search(new)
                self._replace(m.start(1), m.end(1), new if safe else _quote(new))
        return m.end()

    def _at_rule(self, name: str, pos: int) -> int:
        """@import: its string names a stylesheet to fetch (its ``url()`` form is caught by the
        scan). @namespace: its string or ``url()`` is an identifier, consumed unrewritten."""
        text = self.text
        pos = _SKIP_WS_COMMENTS.match(text, pos).end()  # type: ignore[union-attr]
        if name == "namespace":
            prefix = _IDENT.match(text, pos)
            if prefix is not None and not text.startswith("(", prefix.end()):
                pos = _SKIP_WS_COMMENTS.match(text, prefix.end()).end()  # type: ignore[union-attr]
            if _URL_OPEN.match(text, pos):
                return self._url(pos + 4, rewrite=False)
            if text.startswith(('"', "'"), pos):
                return self._string(pos, rewrite=False)
            return pos
        if text.startswith(('"', "'"), pos):
            return self._string(pos, rewrite=True)
        return pos

    def _replace(self, start: int, end: int, new: str) -> None:
        self.out.append(self.text[self.last : start])
        self.out.append(new)
        self.last = end


# What stopped the scan -> how to handle it. Quotes and ")" stop it only inside string-URL
# functions.
_STOPS: dict[str, Callable[[_Pass, int], int]] = {
    "/": _Pass._comment,
    "\\": _Pass._backslash,
    "(": _Pass._open,
    ")": _Pass._close,
    "@": _Pass._at,
    '"': _Pass._quote_char,
    "'": _Pass._quote_char,
}


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "-_" or c >= "\x80"


def _joins(c: str) -> bool:
    return _is_ident_char(c) or c in "\\#@"


def _unescape_one(m: re.Match[str]) -> str:
    hex_digits, newline, char = m.groups()
    if hex_digits is not None:
        cp = int(hex_digits, 16)
        return "\ufffd" if cp == 0 or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF else chr(cp)
    if newline is not None:
        return ""  # a line continuation, inside strings
    return char if char is not None else ""


def _unescape(raw: str) -> str:
    """The value of a string or url token body with its escapes resolved (CSS Syntax 4.3.7)."""
    return _UNESCAPE.sub(_unescape_one, raw)


def _escape_one(m: re.Match[str]) -> str:
    c = m.group()
    return "\\" + c if c in '"\\' else f"\\{ord(c):x} "


def _quote(value: str) -> str:
    """``value`` as a double-quoted CSS string that unescapes to exactly ``value``."""
    return '"' + _QUOTE_ESCAPES.sub(_escape_one, value) + '"'


# -- bytes ------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
# A stylesheet that declares UTF-16 in ASCII-compatible bytes is read as UTF-8 (CSS Syntax 3.2).
_UTF16: Final = frozenset({"utf-16-le", "utf-16-be"})
_CHARSET_RULE = re.compile(rb'@charset "([^"]{0,64})";')
_CHARSET_RULE_TEXT = re.compile(r'@charset "[^"]{0,64}";')


def decode_css(body: bytes, charset: str | None = None) -> str:
    """Decode a stylesheet as a browser does (CSS Syntax 3.2): a BOM wins, then the protocol
    charset, then a leading ``@charset`` rule, then UTF-8 (the referring document's encoding
    is not known here). Labels are read by the one charset authority (``rewriter.charset``):
    an unknown label (``hex``, ``rot13``) is ignored as browsers ignore it. Undecodable bytes
    become U+FFFD; this never raises."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return decode_text(body[len(bom) :], name)
    codec = lookup(charset)
    if codec is None:
        m = _CHARSET_RULE.match(body)
        codec = lookup(m.group(1)) if m is not None else None
        if codec in _UTF16:
            codec = "utf-8"
    return decode_text(body, codec or "utf-8")


def rewrite_css_bytes(body: bytes, to_proxy: ToProxy, charset: str | None = None) -> bytes:
    """Decode, rewrite, and encode as UTF-8 (no BOM). A leading ``@charset`` rule is replaced
    by one naming UTF-8, so the output never lies about its encoding."""
    text = decode_css(body, charset)
    m = _CHARSET_RULE_TEXT.match(text)
    if m is not None:
        text = '@charset "utf-8";' + text[m.end() :]
    return rewrite_css(text, to_proxy).encode("utf-8", errors="replace")
