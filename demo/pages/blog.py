"""HTML of the blog origin (``blog.demo.test``): an index and one page per post.

The blog is the demo's second site: the shop links here with absolute URLs and the blog
links back the same way. Its stylesheet draws the background through a relative ``url()``.
"""

from __future__ import annotations

from html import escape

from demo.catalogue import POSTS, SHOP, Post


def _layout(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Demo Journal</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/blog.css">
</head>
<body>
<header><a href="/">Demo Journal</a> · <a href="{SHOP}/">back to the shop</a></header>
<main>
{body}
</main>
</body>
</html>
"""


def index() -> str:
    items = "\n".join(
        f'<li><a href="/posts/{p.slug}">{escape(p.title)}</a> <span class="date">{p.date}</span></li>'
        for p in POSTS.values()
    )
    return _layout("Journal", f"<h1>Journal</h1>\n<ul>\n{items}\n</ul>")


def post(p: Post) -> str:
    paragraphs = "\n".join(f"<p>{escape(text)}</p>" for text in p.paragraphs)
    body = f"""<article>
<h1>{escape(p.title)}</h1>
<p class="date">{p.date}</p>
{paragraphs}
</article>
<p><a href="{SHOP}/products">Browse the shop →</a></p>"""
    return _layout(p.title, body)


def not_found() -> str:
    return _layout("Not found", '<h1>Not found</h1><p><a href="/">Back to the journal</a></p>')
