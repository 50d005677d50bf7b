"""The target site of the page-load benchmark (``bench_page_load.py``): fixture pages and corpus pages.

One aiohttp app on loopback, reached as ``http://pages.bench/`` (and its subdomains, for pages
that embed other origins). Fixture pages are made here, with the subresources a page usually
has, all served by this app so that a load measures the page and not the network:

- ``/small``   a ~2 KB page: one stylesheet, one script, one image;
- ``/medium``  a ~60 KB page of text: three stylesheets, four scripts, eight images;
- ``/frames``  a small page with two iframes from two other origins (``a.`` and ``b.``): each
               origin is a fresh proxy origin, so this shows what a page pays per origin;
- ``/corpus/<name>``  a page of the shared corpus as stored (its absolute URLs point to the real
               web, which neither side reaches: the direct browser's resolver fails every other
               host, the proxy refuses them by policy, both at once).

Static subresources carry ``Cache-Control: max-age=3600`` like a typical site's assets.
"""

from __future__ import annotations

import random
from pathlib import Path

from aiohttp import web
from sync_site import _png  # noise images: what a real photo costs

HOST = "pages.bench"
ASSET_HEADERS = {"Cache-Control": "public, max-age=3600"}


def _page(title: str, head: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{head}</head>"
            f"<body>{body}</body></html>")


def _with_assets(title: str, sheets: int, scripts: int, images: int, paragraphs: int) -> str:
    rng = random.Random(title)
    words = ["proxy", "page", "load", "render", "origin", "session", "visitor", "agent", "sync", "frame"]
    head = "".join(f'<link rel=stylesheet href="/css/{i}.css">' for i in range(sheets))
    text = "".join(f"<p>{' '.join(rng.choices(words, k=80))}</p>" for _ in range(paragraphs))
    imgs = "".join(f'<img src="/img/{i}.png" width=48 height=48 alt="">' for i in range(images))
    js = "".join(f'<script src="/js/{i}.js"></script>' for i in range(scripts))
    return _page(title, head, f"<h1>{title}</h1>{imgs}{text}{js}")


def _script(n: int) -> str:
    # Some real work, as page scripts have: build a few nodes and read layout once.
    return (f"(function () {{ var list = document.createElement('ul');"
            f" for (var i = 0; i < 50; i++) {{ var li = document.createElement('li'); li.textContent = 'item {n}.' + i;"
            f" list.appendChild(li); }} document.body.appendChild(list); window.__s{n} = list.offsetHeight; }})();\n"
            + "// " + "x" * 2000 + "\n")


def _sheet(n: int) -> str:
    return "".join(f".c{n}-{i} {{ margin: {i}px; color: #{i:03x}; }}\n" for i in range(200))


def make_app(corpus: Path | None) -> web.Application:
    pages = {
        "/small": _with_assets("small", 1, 1, 1, 1),
        "/medium": _with_assets("medium", 3, 4, 8, 70),
        "/frames": _page("frames", '<link rel=stylesheet href="/css/0.css">',
                         f'<h1>frames</h1><iframe src="http://a.{HOST}/small"></iframe>'
                         f'<iframe src="http://b.{HOST}/small"></iframe>'),
    }
    images = {i: _png(i) for i in range(8)}

    async def page(request: web.Request) -> web.StreamResponse:
        text = pages.get(request.path)
        if text is None:
            raise web.HTTPNotFound()
        return web.Response(text=text, content_type="text/html")

    async def corpus_page(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if corpus is None or "/" in name or not (corpus / name).is_file():
            raise web.HTTPNotFound()
        return web.Response(body=(corpus / name).read_bytes(), content_type="text/html")

    async def css(request: web.Request) -> web.StreamResponse:
        return web.Response(text=_sheet(int(request.match_info["n"])), content_type="text/css",
                            headers=ASSET_HEADERS)

    async def js(request: web.Request) -> web.StreamResponse:
        return web.Response(text=_script(int(request.match_info["n"])), content_type="application/javascript",
                            headers=ASSET_HEADERS)

    async def img(request: web.Request) -> web.StreamResponse:
        body = images.get(int(request.match_info["n"]))
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="image/png", headers=ASSET_HEADERS)

    app = web.Application()
    app.router.add_get("/corpus/{name}", corpus_page)
    app.router.add_get(r"/css/{n:\d+}.css", css)
    app.router.add_get(r"/js/{n:\d+}.js", js)
    app.router.add_get(r"/img/{n:\d+}.png", img)
    app.router.add_get("/{page}", page)
    return app


def corpus_sample(corpus: Path, count: int) -> list[str]:
    """``count`` corpus pages spread evenly over the sizes (smallest and largest included)."""
    files = sorted((p for p in corpus.glob("*.html")), key=lambda p: p.stat().st_size)
    if count <= 0 or not files:
        return []
    if count == 1:
        return [files[len(files) // 2].name]
    step = (len(files) - 1) / (count - 1)
    return [files[round(i * step)].name for i in range(count)]
