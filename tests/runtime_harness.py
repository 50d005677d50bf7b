"""A stand-in proxy for testing the injected runtime alone, in real Chromium.

It answers for every host ``<label>--<sid>.<domain>:<port>`` on one loopback port, the way the
real proxy will from the browser's point of view: registered test pages get the runtime tag
with its config (the real URL worked out by ``rewriter.space.ProxySpace``), ``/__cb/runtime.js``
is the files of ``static/runtime`` joined in ``ORDER`` inside one IIFE, ``/__cb/cookie`` and
``/__cb/alias`` are trivial in-memory versions, and every other path answers something small
(an image, a script, an event stream, a WebSocket echo). No upstream is ever contacted.
Every request is logged as (method, host, path with query) so tests can assert where the
page's requests went.

The app runs on its own event loop in a thread, so tests can drive Chromium with Playwright's
sync API from plain test functions.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from aiohttp import WSMsgType, web
from world.targets import serve

from proxy.runtime_asset import RuntimeAsset
from rewriter.origins import Origin
from rewriter.space import ProxySpace

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "static" / "runtime"
SESSION_ID = "abcdefghij"
DOMAIN = "cobrowse.localhost"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def runtime_source() -> str:
    """The runtime exactly as the proxy serves it (``proxy.runtime_asset`` joins the parts)."""
    return RuntimeAsset.load().body.decode("utf-8")


@dataclass(frozen=True, slots=True)
class Hit:
    method: str
    host: str
    path: str

    @property
    def real_url(self) -> str:
        return f"{self.host}{self.path}"


@dataclass(slots=True)
class RuntimeHarness:
    """The stand-in proxy; ``start()`` it, then ``url(real)`` gives the URL to browse."""

    domain: str = DOMAIN
    session_id: str = SESSION_ID
    pages: dict[str, str] = field(default_factory=dict)  # path -> body HTML, served on any host
    hits: list[Hit] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)
    port: int = 0
    space: ProxySpace | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> RuntimeHarness:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("runtime harness did not start")
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None:
            return
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    def _serve(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        served = self._loop.run_until_complete(serve(app))
        self._runner, self.port = served.runner, served.port
        self.space = ProxySpace(self.session_id, self.domain, "http", self.port)
        ready.set()
        self._loop.run_forever()

    # -- what tests use ---------------------------------------------------------------------

    def url(self, real_url: str) -> str:
        assert self.space is not None
        return self.space.to_proxy(real_url)

    def real(self, proxy_url: str) -> str:
        assert self.space is not None
        return self.space.from_proxy(proxy_url)

    def proxy_host(self, real_origin: str) -> str:
        assert self.space is not None
        return self.space.host_for(Origin.parse(real_origin))

    def hits_for(self, real_origin: str) -> list[Hit]:
        host = self.proxy_host(real_origin)
        with self._lock:
            return [h for h in self.hits if h.host.split(":")[0] == host]

    def paths_for(self, real_origin: str) -> list[str]:
        return [h.path for h in self.hits_for(real_origin)]

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()
            self.cookies.clear()

    # -- handlers ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self.space is not None
        with self._lock:
            self.hits.append(Hit(request.method, request.host, request.path_qs))
        origin = self.space.origin_for_host(request.host)
        if origin is None:
            return web.Response(status=404, text="not a proxy host of this session")
        path = request.path
        if path == "/__cb/runtime.js":
            return web.Response(text=runtime_source(), content_type="application/javascript")
        if path == "/__cb/cookie":
            return await self._cookie(request)
        if path == "/__cb/alias":
            try:
                return web.Response(text=self.space.proxy_origin(Origin.parse(request.query.get("origin", ""))))
            except ValueError:
                return web.Response(status=400, text="not an origin")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._echo(request)
        if path in self.pages:
            return self._page(request, self.pages[path])
        return self._asset(request)

    def _page(self, request: web.Request, body: str) -> web.Response:
        assert self.space is not None
        real_url = self.space.from_proxy(f"http://{request.host}{request.path_qs}")
        config = {
            "sid": self.session_id,
            "domain": self.domain,
            "scheme": "http",
            "port": self.port,
            "url": real_url,
            "aliases": {label: str(o) for label, o in self.space.aliases.items()},
            "cookie": self._cookie_string(),
            "prefix": "/__cb/",
        }
        tag = f'<script src="/__cb/runtime.js" data-cb="{html.escape(json.dumps(config), quote=True)}"></script>'
        doc = f"<!doctype html><html><head>{tag}<meta charset=utf-8><title>t</title></head><body>{body}</body></html>"
        return web.Response(text=doc, content_type="text/html")

    def _asset(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        headers = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"} if origin else {}
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
            headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
            return web.Response(status=204, headers=headers)
        path = request.path
        if path.endswith(".png"):
            return web.Response(body=PNG_1PX, content_type="image/png", headers=headers)
        if path.endswith(".js"):
            return web.Response(text="/* asset */", content_type="application/javascript", headers=headers)
        if path.endswith(".css"):
            return web.Response(text="/* asset */", content_type="text/css", headers=headers)
        if path.startswith("/events"):
            return web.Response(text="data: hello\n\n", content_type="text/event-stream", headers=headers)
        return web.Response(text=f"ok {request.method} {path}", content_type="text/plain", headers=headers)

    async def _echo(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    # -- a trivial jar: one flat name -> value map (the real jar is sessions/') ---------------

    def _cookie_string(self) -> str:
        with self._lock:
            return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def _cookie(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await request.json()
            jar: SimpleCookie = SimpleCookie()
            jar.load(str(data["cookie"]))
            with self._lock:
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        return web.Response(text=self._cookie_string(), content_type="text/plain")
