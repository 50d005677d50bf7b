"""The CDN origin (``http://cdn.test``): a classic script, style sheets and images.

``style.css`` uses both ``@import`` forms (``url(...)`` and a bare string) and an absolute
``url()``; the imported sheets size marker elements so the page can see they applied.
Any ``/img/<name>`` answers a 1x1 PNG (names may hold commas, as srcset must cope with them).
"""

from __future__ import annotations

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import PNG_1X1

_FILES: dict[str, tuple[str, str]] = {
    "/lib.js": (
        "application/javascript",
        "window.cdnLoaded = true;\nreport('cdn-script', true);\n",
    ),
    "/dyn.js": ("application/javascript", "report('dyn-script', true);\n"),
    "/style.css": (
        "text/css",
        '@import url("http://cdn.test/imported.css");\n'
        '@import "http://cdn.test/imported-str.css";\n'
        "#css-url-sheet { width: 10px; height: 10px;"
        " background-image: url('http://cdn.test/img/bg.png'); }\n",
    ),
    "/imported.css": ("text/css", "#css-import-url { width: 123px; height: 1px; }\n"),
    "/imported-str.css": ("text/css", "#css-import-str { width: 77px; height: 1px; }\n"),
}


async def asset(request: web.Request) -> web.Response:
    found = _FILES.get(request.path)
    if found is None:
        raise web.HTTPNotFound()
    content_type, text = found
    return web.Response(text=text, content_type=content_type, charset="utf-8")


async def image(request: web.Request) -> web.Response:
    return web.Response(body=PNG_1X1, content_type="image/png")


def make_app(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app.router.add_get("/img/{name}", image)
    app.router.add_get("/{tail:.*}", asset)
    return app
