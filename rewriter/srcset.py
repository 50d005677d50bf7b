"""Rewrite the URLs of a ``srcset`` / ``imagesrcset`` value, keeping everything else.

Follows the HTML standard's "parse a srcset attribute" algorithm for where each candidate's
URL starts and ends: skip whitespace and commas; the URL is the following run of
non-whitespace (so it may contain commas); trailing commas of that run are separators, not
part of the URL; otherwise descriptors run to the next comma outside parentheses.

Invariant: only URL substrings change; whitespace, commas and descriptors are copied as is.
The regexes use possessive quantifiers so every character is examined a bounded number of
times (linear on hostile input).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_GAP = re.compile(r"[\t\n\f\r ,]*+")
_URL = re.compile(r"[^\t\n\f\r ]++")
# Descriptors: anything up to a comma that is not inside parentheses (or the end).
_DESCRIPTORS = re.compile(r"(?:[^,(]++|\([^)]*+\)?)*+,?")


def rewrite_srcset(value: str, to_proxy: Callable[[str], str]) -> str:
    out: list[str] = []
    pos, end = 0, len(value)
    while True:
        gap = _GAP.match(value, pos)
        assert gap is not None  # matches the empty string
        out.append(gap.group())
        pos = gap.end()
        if pos >= end:
            return "".join(out)
        url_match = _URL.match(value, pos)
        assert url_match is not None  # pos is on a non-separator character
        url = url_match.group()
        stripped = url.rstrip(",")
        out.append(to_proxy(stripped))
        out.append(url[len(stripped) :])
        pos = url_match.end()
        if stripped != url:
            continue  # the URL's trailing commas ended this candidate
        desc = _DESCRIPTORS.match(value, pos)
        assert desc is not None
        out.append(desc.group())
        pos = desc.end()
