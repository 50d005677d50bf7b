"""The declarative refresh syntax, ``<delay>[;|,] [url=]['"]<url>``: the one parser.

Both the ``Refresh`` response header and ``<meta http-equiv=refresh content=...>`` use it, so
both get the same reading and the same refusals. The reading is HTML's "shared declarative
refresh steps": a delay (digits, or a ``.``), then ``;``, ``,`` or whitespace, then the URL,
optionally after ``url=`` (case-insensitive, spaces around ``=``) and an opening quote, which
the same quote (if present) closes. A value the browser would not act on, or one without a
URL (it reloads the page itself, which is already in the proxy space), is left as it is.

Invariants: only the URL substring changes; a URL naming a scheme other than http(s)
(``javascript:``, ``data:``, ``vbscript:``...) makes ``rewrite_refresh`` return None, and the
caller drops the header or the attribute. No I/O, no state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from rewriter.urls import is_navigable

_WS: Final = "\t\n\f\r "
_DIGITS: Final = "0123456789"


def _skip(value: str, pos: int, chars: str) -> int:
    while pos < len(value) and value[pos] in chars:
        pos += 1
    return pos


def _keyword_end(value: str, pos: int) -> int | None:
    """Where the quote check starts after ``url =`` at ``pos``, or None when it is not there."""
    n = len(value)
    for letters in ("uU", "rR", "lL"):
        if pos >= n or value[pos] not in letters:
            return None
        pos += 1
    pos = _skip(value, pos, _WS)
    if pos >= n or value[pos] != "=":
        return None
    return _skip(value, pos + 1, _WS)


def url_span(value: str) -> tuple[int, int] | None:
    """(start, end) of the URL in a refresh value, or None when there is no refresh or no URL."""
    n = len(value)
    pos = _skip(value, 0, _WS)
    digits_end = _skip(value, pos, _DIGITS)
    if digits_end == pos and not value.startswith(".", pos):
        return None
    pos = _skip(value, digits_end, _DIGITS + ".")
    if pos < n:
        if value[pos] not in ";," + _WS:
            return None
        pos = _skip(value, pos, _WS)
        if pos < n and value[pos] in ";,":
            pos += 1
        pos = _skip(value, pos, _WS)
    if pos >= n:
        return None
    start = pos
    if value[pos] in "uU":
        after = _keyword_end(value, pos)
        if after is None:
            return start, n  # "url.html", "uri=...": the whole rest is the URL
        pos = after
    quote = value[pos] if pos < n and value[pos] in "'\"" else ""
    if quote:
        pos += 1
        close = value.find(quote, pos)
        return pos, (close if close >= 0 else n)
    return pos, n


def rewrite_refresh(value: str, to_proxy: Callable[[str], str]) -> str | None:
    """The value with its URL mapped by ``to_proxy``; None when its URL must not be followed."""
    span = url_span(value)
    if span is None:
        return value
    start, end = span
    url = value[start:end]
    if not is_navigable(url):
        return None
    return value[:start] + to_proxy(url) + value[end:]
