"""The visitor snippet's part of the composition root: one ``install(app)`` call in ``proxy.app``.

It gives the application its visitors (``proxy.visitors.VISITORS``: the registry every process
shares, and the subscription that wakes this process's long polls) and the routes of
``proxy.visitors`` (the REST API), ``proxy.snippet_api`` (``/snippet.js`` and its endpoints)
and ``proxy.watch`` (the pages a watch link opens); on shutdown, held long polls are answered
at once so they do not hold the server up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from proxy import snippet_api, visitors, watch
from proxy.keys import SHARED


def install(app: web.Application) -> None:
    app[visitors.VISITORS] = visitors.Visitors(app[SHARED])
    app.add_routes(visitors.routes)
    app.add_routes(snippet_api.routes)
    app.add_routes(watch.routes)
    app.cleanup_ctx.append(_hearing)
    app.on_shutdown.append(_wake_polls)


async def _hearing(app: web.Application) -> AsyncIterator[None]:
    """Hear the changes other processes announce, for as long as the app runs."""
    await app[visitors.VISITORS].start()
    yield
    await app[visitors.VISITORS].stop()


async def _wake_polls(app: web.Application) -> None:
    app[visitors.VISITORS].wake_all()
