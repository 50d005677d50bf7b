"""The visitor snippet's part of the composition root: one ``install(app)`` call in ``proxy.app``.

It gives the application its visitor registry (``proxy.visitors.VISITORS``) and the routes of
``proxy.visitors`` (the REST API), ``proxy.snippet_api`` (``/snippet.js`` and its endpoints)
and ``proxy.watch`` (the pages a watch link opens); on shutdown, held long polls are answered
at once so they do not hold the server up.
"""

from __future__ import annotations

from aiohttp import web

from proxy import snippet_api, visitors, watch


def install(app: web.Application) -> None:
    app[visitors.VISITORS] = visitors.Visitors()
    app.add_routes(visitors.routes)
    app.add_routes(snippet_api.routes)
    app.add_routes(watch.routes)
    app.on_shutdown.append(_wake_polls)


async def _wake_polls(app: web.Application) -> None:
    app[visitors.VISITORS].wake_all()
