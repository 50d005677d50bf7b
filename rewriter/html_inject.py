"""Where the runtime goes in a document: decided from the document's start, as it streams in.

The runtime (``PageContext.inject``) goes immediately after the ``<head>`` start tag when the
document opens with ``<html>``/``<head>`` tags, else immediately before the first other start
tag, so it precedes every script, event-handler attribute and resource. Parsers put a script
found before ``<html>`` or ``<body>`` into an implied ``<head>``, so documents without
``<head>`` or ``<html>`` are covered too. A document with no other start tag in its first
``SCAN_LIMIT`` characters gets the runtime there (at its end, if it is shorter): the decision
never waits for more than that, so a streamed page is never held back longer.

Comments and declarations are skipped as tokens, so a ``<`` inside them is no tag. ``inject_at``
answers from a prefix only when no later text could change the answer: the same position for
any way the document is cut into chunks.
"""

from __future__ import annotations

import re
from typing import Final

from rewriter.html_tables import HEAD_WRAPPERS

SCAN_LIMIT: Final = 64 * 1024

_WS = "\t\n\f\r "
_ONE_ATTR = rf"""[^{_WS}/>][^{_WS}/>=]*+(?:[{_WS}]*+=[{_WS}]*+(?:"[^"]*+"|'[^']*+'|[^{_WS}>]*+))?"""
_ATTRS = rf"(?:[{_WS}/]++|{_ONE_ATTR})*+"
# Any start tag, comment or declaration.
_ANY_TAG = re.compile(rf"<(?:([a-zA-Z][^{_WS}/>]*+){_ATTRS}>?|!--(?:-?>|.*?(?:--!?>|\Z))|[!?][^>]*+>?)", re.S)


def inject_at(text: str, final: bool) -> int | None:
    """Where the runtime goes in a document starting with ``text``; None if that depends on
    what follows (``final``: ``text`` is the whole document)."""
    after = -1
    for m in _ANY_TAG.finditer(text, 0, SCAN_LIMIT):
        if m.end() == len(text) and not final and len(text) < SCAN_LIMIT:
            return None  # the token may go on
        name = m.group(1)
        if name is None:
            continue
        lname = name.lower()
        if lname not in HEAD_WRAPPERS:
            return after if after >= 0 else m.start()
        if lname == "head" or after < 0:
            after = m.end()
    if not final and len(text) < SCAN_LIMIT:
        return None
    return after if after >= 0 else min(len(text), SCAN_LIMIT)
