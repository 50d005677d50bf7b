"""Plain, clear pages and JSON bodies for errors the proxy answers itself.

Every refusal says what happened and what the person can do; none echoes the request (no
header, cookie, ticket or invitation). Pages carry our strict page CSP (``proxy.security_headers``):
their one inline style by hash, no script; they may be framed, since on a session host an error
page can stand in for a proxied iframe.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from aiohttp import web

from proxy.problems import problem
from proxy.security_headers import page_headers

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.4rem}}p.code{{color:#777;font-size:.9rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p class="code">cobrowse &middot; HTTP {status}</p>{sweep}</body></html>
"""


def error_page(status: int, title: str, message: str, headers: dict[str, str] | None = None, *,
               clear_origins: Sequence[str] = ()) -> web.Response:
    """A clear page. ``clear_origins``: origins the page loads one tiny image from, each answered
    with ``Clear-Site-Data`` (see ``proxy.visit.ended_page``); they are the only images its CSP allows
    beyond its own origin."""
    sweep = "".join(f'<img src="{html.escape(origin, quote=True)}/" alt="" width="1" height="1" hidden>'
                    for origin in clear_origins)
    body = _PAGE.format(title=html.escape(title), message=html.escape(message), status=status, sweep=sweep)
    security = page_headers(body, framable=True, images=" ".join(clear_origins))
    response = web.Response(status=status, text=body, content_type="text/html",
                            headers={**security, **(headers or {})})
    response.headers["Cache-Control"] = "no-store"
    return response


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An API refusal: a problem document (``proxy.problems``)."""
    return problem(status, message, headers=headers)
