"""CSS rewriting: point every URL a stylesheet fetches into the session's proxy space.

The job: find the few tokens of CSS that name a resource to fetch (``url()`` in all its
quoting and escaping forms, the string of ``@import``, the bare strings of ``image-set()``)
and replace the URL inside them with what ``to_proxy`` returns; drop source-map comments.

Invariants:

* Everything else passes through byte for byte. A URL that ``to_proxy`` leaves unchanged
  (relative, ``data:``...) is not touched either, however it was spelled.
* Tokens are found the way a browser's CSS tokenizer (CSS Syntax Level 3) finds them, so a
  ``url(`` inside a comment or a string is left alone and an escaped URL is understood:
  ``url(ht\\74p://a.com/)`` names ``http://a.com/``. A URL that needed unescaping is written
  back as a double-quoted string, escaped for CSS.
* ``@namespace`` URLs are identifiers, not fetches: never rewritten.
* Linear time on any input. One compiled regex finds the interesting tokens and skips the
  rest in C; every sub-pattern that walks text is possessive or always succeeds, so there is
  no backtracking, and every token is consumed once.

Pure: no I/O, no state between calls.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

__all__ = ["rewrite_css", "rewrite_css_bytes"]

ToProxy = Callable[[str], str]

# Functions whose bare string arguments (at their own nesting level) are URLs to fetch.
_STRING_URL_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})

# At-rules whose prelude we look at: @import's string is a fetch, @namespace's is a name.
_AT_RULES = frozenset({"import", "namespace"})

_WS = "[ \\t\\n\\r\\f]"
# A character that continues an identifier (CSS "ident code point"; non-ASCII included).
_IDENT_CHAR = "[\\w\\-\\x80-\\U0010ffff]"
_NOT_IDENT_BEFORE = "[\\w\\-\\x80-\\U0010ffff\\\\#@]"
_ESCAPE = "\\\\(?:[0-9a-fA-F]{1,6}(?:\\r\\n|[ \\t\\n\\r\\f])?|[^\\n\\r\\f0-9a-fA-F])"
_COMMENT_BODY = "(?:[^*]++|\\*(?!/))*+(?:\\*/)?"


def _nocase(word: str) -> str:
    """``url`` -> ``[uU][rR][lL]``: a case-insensitive literal without re.IGNORECASE, which
    would stop the regex engine from skipping quickly to the few characters that start a token."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def _function_start(name: str) -> str:
    """``name(`` at the start of an identifier. The look-behind sits after the first character
    (fixed width 2) so that the pattern still begins with a plain character class."""
    first, rest = _nocase(name[0]), _nocase(name[1:])
    return f"{first}(?<!{_NOT_IDENT_BEFORE}{first}){rest}\\("


_SCAN = re.compile(
    "(?P<comment>/\\*)"
    "|(?P<string>[\"'])"
    "|(?P<escape>\\\\)"
    f"|(?P<url>{_function_start('url')})"
    "|(?P<fn>" + "|".join(_function_start(n) for n in sorted(_STRING_URL_FUNCTIONS)) + ")"
    "|@(?P<at>" + "|".join(_nocase(n) for n in sorted(_AT_RULES)) + ")(?![\\w\\-\\x80-\\U0010ffff\\\\])"
)
# Inside a string-URL function, parentheses matter: strings only count at its own level.
_SCAN_NESTED = re.compile(_SCAN.pattern + "|(?P<open>\\()|(?P<close>\\))")

_STRING_BODY = {
    '"': re.compile('(?:[^"\\\\\\n\\r\\f]++|\\\\(?:\\r\\n|[\\s\\S])?)*+'),
    "'": re.compile("(?:[^'\\\\\\n\\r\\f]++|\\\\(?:\\r\\n|[\\s\\S])?)*+"),
}
_SKIP_WS_COMMENTS = re.compile(f"(?:{_WS}++|/\\*{_COMMENT_BODY})*+")
_SKIP_WS = re.compile(f"{_WS}*+")
# The body of an unquoted url token, up to and including ")" (or the end of the text).
_URL_UNQUOTED = re.compile(
    f"((?:[^\"'()\\\\ \\t\\n\\r\\f\\x01-\\x08\\x0b\\x0e-\\x1f\\x7f]++|{_ESCAPE})*+){_WS}*+(?:\\)|\\Z)"
)
_BAD_URL_REMNANTS = re.compile("(?:[^)\\\\]++|\\\\[\\s\\S]?)*+\\)?")
_URL_OPEN = re.compile("[uU][rR][lL]\\(")
_IDENT = re.compile(f"(?:[\\w\\-\\x80-\\U0010ffff]++|{_ESCAPE})++")
_SOURCE_MAP = re.compile("/\\*[#@][ \\t]+sourceMappingURL[ \\t]*=")
_UNESCAPE = re.compile(
    "\\\\(?:([0-9a-fA-F]{1,6})(?:\\r\\n|[ \\t\\n\\r\\f])?|(\\r\\n|[\\n\\r\\f])|([\\s\\S])|\\Z)"
)
# Characters a URL may not hold as-is in an unquoted url(): rewritten results holding one are quoted.
_UNSAFE_UNQUOTED = re.compile("[\"'()\\\\\\s\\x00-\\x1f\\x7f]")
_UNSAFE_IN_STRING = re.compile("[\"'\\\\\\x00-\\x1f\\x7f]")
# How far back an escape-bearing identifier can start and still spell one of our names.
_LONGEST_NAME = max(len(n) for n in (*_STRING_URL_FUNCTIONS, *_AT_RULES, "url"))


def rewrite_css(text: str, to_proxy: ToProxy) -> str:
    """Rewrite the fetchable URLs of a stylesheet (or a ``style`` attribute's text)."""
    return _Rewriter(text, to_proxy).run()


class _Rewriter:
    """One pass over one text. ``out`` collects the output; ``last`` is where the untouched
    input not yet copied to ``out`` starts; ``depth`` tracks string-URL function nesting."""

    __slots__ = ("depths", "last", "out", "text", "to_proxy")

    def __init__(self, text: str, to_proxy: ToProxy) -> None:
        self.text = text
        self.to_proxy = to_proxy
        self.out: list[str] = []
        self.last = 0
        # Parenthesis depth of each open string-URL function, innermost last; the current
        # depth is the last entry's counter (strings count only at depth 1).
        self.depths: list[int] = []

    def run(self) -> str:
        text = self.text
        pos = 0
        while True:
            scan = _SCAN_NESTED if self.depths else _SCAN
            m = scan.search(text, pos)
            if m is None:
                break
            kind = m.lastgroup
            start, end = m.span()
            if kind == "comment":
                pos = self._comment(start)
            elif kind == "string":
                pos = self._string(end, rewrite=bool(self.depths) and self.depths[-1] == 1)
            elif kind == "url":
                pos = self._url(end)
            elif kind == "fn":
                self.depths.append(1)
                pos = end
            elif kind == "at":
                pos = self._at_rule(m.group("at").lower(), end)
            elif kind == "escape":
                pos = self._escaped_ident(start, pos)
            elif kind == "open":
                self.depths[-1] += 1
                pos = end
            else:  # close
                self.depths[-1] -= 1
                if self.depths[-1] == 0:
                    self.depths.pop()
                pos = end
        if not self.out:
            return text
        self.out.append(text[self.last :])
        return "".join(self.out)

    # -- tokens -------------------------------------------------------------------------

    def _comment(self, start: int) -> int:
        close = self.text.find("*/", start + 2)
        end = len(self.text) if close < 0 else close + 2
        if _SOURCE_MAP.match(self.text, start):
            self._replace(start, end, "")
        return end

    def _string(self, body_start: int, *, rewrite: bool) -> int:
        """Skip (or rewrite) the string whose opening quote ends at ``body_start``."""
        quote = self.text[body_start - 1]
        body_end = _STRING_BODY[quote].match(self.text, body_start).end()  # type: ignore[union-attr]
        end = body_end + 1 if self.text.startswith(quote, body_end) else body_end
        if rewrite:
            self._rewrite_string(body_start - 1, body_end, end)
        return end

    def _url(self, pos: int, *, rewrite: bool = True) -> int:
        """After ``url(``: a string argument, an unquoted url token, or a bad url."""
        text = self.text
        pos = _SKIP_WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] in "\"'":
            return self._string(pos + 1, rewrite=rewrite)
        m = _URL_UNQUOTED.match(text, pos)
        if m is None:
            return _BAD_URL_REMNANTS.match(text, pos).end()  # type: ignore[union-attr]
        raw = m.group(1)
        if raw and rewrite:
            escaped = "\\" in raw
            value = _unescape(raw) if escaped else raw
            new = self.to_proxy(value)
            if new != value:
                if escaped or _UNSAFE_UNQUOTED.search(new):
                    self._replace(m.start(1), m.end(1), _quote(new))
                else:
                    self._replace(m.start(1), m.end(1), new)
        return m.end()

    def _at_rule(self, name: str, pos: int) -> int:
        """@import: its string names a stylesheet to fetch (its ``url()`` form is caught by the
        main scan). @namespace: its string or ``url()`` is an identifier, skipped unrewritten."""
        text = self.text
        pos = _SKIP_WS_COMMENTS.match(text, pos).end()  # type: ignore[union-attr]
        if name == "namespace":
            ident = _IDENT.match(text, pos)
            if ident is not None and not text.startswith("(", ident.end()):
                pos = _SKIP_WS_COMMENTS.match(text, ident.end()).end()  # type: ignore[union-attr]
            if _URL_OPEN.match(text, pos):
                return self._url(pos + 4, rewrite=False)
            if pos < len(text) and text[pos] in "\"'":
                return self._string(pos + 1, rewrite=False)
            return pos
        if pos < len(text) and text[pos] in "\"'":
            return self._string(pos + 1, rewrite=True)
        return pos

    def _escaped_ident(self, backslash: int, scan_from: int) -> int:
        """A backslash outside strings: an escape inside an identifier (``\\:`` in class names,
        or an obfuscated ``u\\72l(``). Consume the whole identifier; if it spells one of the
        functions or at-rules we handle, handle it."""
        text = self.text
        start = backslash
        floor = max(scan_from, backslash - _LONGEST_NAME - 1)
        while start > floor and _is_ident_char(text[start - 1]):
            start -= 1
        m = _IDENT.match(text, start)
        if m is None or m.end() <= backslash:
            return backslash + 1  # a lone "\" (before a newline or the end): a delimiter
        end = m.end()
        if end - start > 6 * (_LONGEST_NAME + 2):
            return end
        name = _unescape(m.group()).lower()
        if start > 0 and text[start - 1] == "@" and name in _AT_RULES:
            return self._at_rule(name, end)
        if text.startswith("(", end) and (start == 0 or text[start - 1] not in "#@"):
            if name == "url":
                return self._url(end + 1)
            if name in _STRING_URL_FUNCTIONS:
                self.depths.append(1)
                return end + 1
            if self.depths:
                self.depths[-1] += 1
                return end + 1
        return end

    # -- output -------------------------------------------------------------------------

    def _rewrite_string(self, start: int, body_end: int, end: int) -> None:
        """Rewrite the URL in the string token text[start:end] (quote included)."""
        raw = self.text[start + 1 : body_end]
        escaped = "\\" in raw
        value = _unescape(raw) if escaped else raw
        new = self.to_proxy(value)
        if new == value:
            return
        if escaped or _UNSAFE_IN_STRING.search(new):
            self._replace(start, end, _quote(new) if end > body_end else _quote(new)[:-1])
        else:
            self._replace(start + 1, body_end, new)

    def _replace(self, start: int, end: int, new: str) -> None:
        self.out.append(self.text[self.last : start])
        self.out.append(new)
        self.last = end


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "-_" or c >= "\x80"


def _unescape_one(m: re.Match[str]) -> str:
    hex_digits, newline, char = m.groups()
    if hex_digits is not None:
        cp = int(hex_digits, 16)
        return "\ufffd" if cp == 0 or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF else chr(cp)
    if newline is not None:
        return ""  # a line continuation (only valid inside strings)
    return char if char is not None else ""


def _unescape(raw: str) -> str:
    """The value of a CSS string or url token body: escapes resolved (CSS Syntax 4.3.7)."""
    return _UNESCAPE.sub(_unescape_one, raw)


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    if c in '"\\':
        return "\\" + c
    return f"\\{ord(c):x} "


_QUOTE_ESCAPES = re.compile('["\\\\\\x00-\\x1f\\x7f]')


def _quote(value: str) -> str:
    """``value`` as a double-quoted CSS string that unescapes back to exactly ``value``."""
    return '"' + _QUOTE_ESCAPES.sub(_escape_char, value) + '"'


# -- bytes ------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
# WHATWG Encoding labels that Python spells differently or maps elsewhere (browsers decode
# "latin1"/"ascii" as windows-1252, and read a declared UTF-16 stylesheet as UTF-8).
_LABEL_ALIASES = {
    "latin1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-user-defined": "cp1252",
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
    "unicode": "utf-8",
}
_CHARSET_RULE = re.compile(b'@charset "([^"]{0,100})";')
_CHARSET_RULE_TEXT = re.compile('@charset "[^"]{0,100}";')


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _LABEL_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_css(body: bytes, charset: str | None = None) -> str:
    """Decode a stylesheet as a browser does: BOM, then the protocol charset, then a leading
    ``@charset`` rule, then UTF-8 (CSS Syntax 3.2; the referring document's encoding is not
    known here). Undecodable bytes become U+FFFD."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    codec = _codec(charset)
    if codec is None:
        m = _CHARSET_RULE.match(body)
        if m is not None:
            codec = _codec(m.group(1).decode("ascii", errors="replace"))
    return body.decode(codec or "utf-8", errors="replace")


def rewrite_css_bytes(body: bytes, to_proxy: ToProxy, charset: str | None = None) -> bytes:
    """Decode, rewrite, and encode as UTF-8. A leading ``@charset`` rule is replaced by one
    naming UTF-8, so the output never lies about its encoding."""
    text = decode_css(body, charset)
    m = _CHARSET_RULE_TEXT.match(text)
    if m is not None:
        text = '@charset "utf-8";' + text[m.end() :]
    return rewrite_css(text, to_proxy).encode("utf-8", errors="replace")
