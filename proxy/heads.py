"""When a proxied response's head goes out: with its first body bytes, when a body is on its way.

aiohttp's ``StreamResponse`` writes its head to the socket as soon as it is prepared, then each
body chunk in a write of its own: two system calls and two segments for a small asset, where
its ``Response`` (a whole body in hand) sends one. ``HeldHead`` keeps the head until the first
body write (or the end, for an empty body) and sends them together.

Holding is right only for a body that is coming now: one whose length the target declared (or
none at all: HEAD, 204, 304), or one the proxy rewrites (it reads that body at once, whole or as
it streams). A body of unknown length may be a stream
that stays quiet for long (server-sent events, a long poll), and its head must reach the browser
at once, so ``response_for`` gives those the plain ``StreamResponse``.
"""

from __future__ import annotations

from aiohttp import web


class HeldHead(web.StreamResponse):
    """A ``StreamResponse`` whose head leaves with its first body bytes (aiohttp's own switch,
    the one its ``Response`` sets; ``tests/test_heads.py`` notices if an upgrade drops it)."""

    _send_headers_immediately = False


def response_for(status: int, reason: str, *, rewritten: bool, length_known: bool) -> web.StreamResponse:
    """The response object for a proxied answer (see the module docstring for which holds its head)."""
    kind = HeldHead if rewritten or length_known else web.StreamResponse
    return kind(status=status, reason=reason)
