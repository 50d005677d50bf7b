"""A rewritten body sent as it arrives: the first rewritten bytes leave before the page has.

For bodies whose rewriter streams (``rewriter.body.BodyRewriter.stream``: HTML), the proxy
feeds each decoded piece of the target's body to the rewriter and writes whatever output is
ready, so the browser starts parsing (and fetching subresources) while the target is still
sending. The head goes out with the first output; until then an error can still become an
error page (the caller's), after it only a cut connection (``Broken``) tells the browser the
transfer failed. What the rewriter may hold is bounded (``max_buffered``, the configured
``max_rewrite_body``), not the page's size.

Invariants: every piece is handed to ``tee`` (the response store, the audit trail) before any
output made from it is written; aliases the rewrite created (``ProxySpace.aliases``) are stored
before the output naming them is written, so a browser that follows them finds them.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from proxy.visit import Visit, persist_aliases
from rewriter.body import BodyRewriter
from rewriter.html import PageContext

_COMPRESS = "gzip"
_GZIP_WBITS = 31  # zlib's gzip container


class Broken(Exception):
    """The body failed after the head was sent: the browser's connection was cut."""


async def send_streamed(request: web.Request, visit: Visit, response: web.StreamResponse, rewriter: BodyRewriter,
                        page: PageContext, charset: str | None, max_buffered: int, pieces: AsyncIterator[bytes],
                        tee: Callable[[bytes], Awaitable[None]]) -> web.StreamResponse:
    """Rewrite ``pieces`` (the decoded body) into ``response`` as they come. Raises what the
    source or the rewriter raised if nothing was sent yet, else ``Broken``."""
    assert rewriter.stream is not None
    stream = rewriter.stream(page, charset, max_buffered)
    response.headers["Content-Type"] = rewriter.content_type
    sender = _Sender(request, visit, response)
    if _COMPRESS in request.headers.get("Accept-Encoding", ""):
        # Compressed here, each write flushed: aiohttp's own compression holds output back
        # until its buffer fills, which would hold the page's start too.
        response.headers["Content-Encoding"] = _COMPRESS
        response.headers.add("Vary", "Accept-Encoding")
        sender.packer = zlib.compressobj(wbits=_GZIP_WBITS)
    try:
        async for piece in pieces:
            await tee(piece)
            await sender.send(stream.feed(piece))
        await sender.send(stream.close(), last=True)
    except Exception as exc:
        if not response.prepared:
            raise
        if request.transport is not None:
            request.transport.close()
        raise Broken(str(exc)) from exc
    await response.write_eof()
    return response


class _Sender:
    """Writes output, storing new aliases first and sending the head with the first bytes."""

    __slots__ = ("aliases", "packer", "request", "response", "visit")

    def __init__(self, request: web.Request, visit: Visit, response: web.StreamResponse) -> None:
        self.request = request
        self.visit = visit
        self.response = response
        self.aliases = len(visit.space.aliases)
        self.packer: zlib._Compress | None = None  # gzip, when the browser takes it

    async def send(self, out: bytes, last: bool = False) -> None:
        if not out and not last:
            return
        if len(self.visit.space.aliases) != self.aliases:
            await persist_aliases(self.request, self.visit)
            self.aliases = len(self.visit.space.aliases)
        if not self.response.prepared:
            await self.response.prepare(self.request)
        if self.packer is not None:
            out = self.packer.compress(out) + self.packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        if out:
            await self.response.write(out)
