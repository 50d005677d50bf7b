"""``POST /__cb/js?kind=classic|module|body``: rewrite script text built at run time.

The runtime (``static/runtime/45-jsglue.js``) cannot parse JavaScript, so code a page builds at
run time (``eval``, ``new Function``, string timers, a ``<script>``'s text set before insertion,
a handler attribute set by ``setAttribute``) is sent here with a synchronous same-origin XHR,
only when it may touch ``location`` or call ``eval``, and cached per page by the runtime.
The answer is ``rewriter/js.py``'s, through the server's ``ScriptCache`` (the same text from
any page or session is parsed once): 200 with the rewritten text, 204 when it is unchanged
(doesn't parse, or has nothing to rewrite: the runtime then runs it as it is).

Limits: a body over ``MAX_SOURCE`` bytes gets 413 (the runtime runs it unrewritten); a body
over ``IN_THREAD`` bytes is parsed off the event loop. Only this host's own pages may ask
(``Sec-Fetch-Site: same-origin`` when sent): the endpoint reads nothing of the session, but
parsing costs CPU, which other sites should not be able to spend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from proxy.keys import SCRIPTS
from proxy.visit import Visit
from rewriter.js_cache import ScriptCache

MAX_SOURCE = 4 * 1024 * 1024
IN_THREAD = 64 * 1024

# kind -> how the cache rewrites that kind of text
KINDS: dict[str, Callable[[ScriptCache, bytes], bytes]] = {
    "classic": lambda cache, data: cache.rewrite(data),
    "module": lambda cache, data: cache.rewrite(data, module=True),
    "body": lambda cache, data: cache.rewrite_body(data),
}


async def rewrite(request: web.Request, visit: Visit) -> web.StreamResponse:
    del visit  # any participant of the session may ask; the answer depends on the text alone
    if request.method != "POST":
        return web.Response(status=405, text="POST only")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return web.Response(status=403, text=f"only this site's own pages may ask (Sec-Fetch-Site was {site[:40]})")
    how = KINDS.get(request.query.get("kind", "classic"))
    if how is None:
        return web.Response(status=400, text="kind must be one of: " + ", ".join(KINDS))
    data = await request.content.read(MAX_SOURCE + 1)
    if len(data) > MAX_SOURCE:
        return web.Response(status=413, text=f"script text larger than {MAX_SOURCE} bytes")
    cache = request.app[SCRIPTS]
    if len(data) > IN_THREAD:
        out = await asyncio.to_thread(how, cache, data)
    else:
        out = how(cache, data)
    if out is data:
        return web.Response(status=204, headers={"Cache-Control": "no-store"})
    return web.Response(body=out, content_type="text/javascript", charset="utf-8",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
