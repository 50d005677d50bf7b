"""Through the proxy, a page's rewritten start reaches the browser before the target has sent
its end: the driver's copy, and a follower's (rewritten from the driver's record as it grows).

The target (``stream.test``) sends a large gzip page's first part, then holds the rest until
the test has read the rewritten start through the proxy, as the driver and as a follower:
those reads are the fence, so the test fails (times out) if either copy waits for the whole
page before sending anything.
"""

from __future__ import annotations

import asyncio
import zlib

import aiohttp
from aiohttp import web
from world import HitLog, ServeWorld
from world.harness import DOMAIN, StartCobrowse
from world.hits import hit_middleware
from world.sync_client import join, start_session

HOST = "stream.test"
TARGET = f"http://{HOST}"
HEAD = (b"<!doctype html><html><head><title>big</title></head><body>"
        b'<a id="first" href="http://stream.test/first">first</a>' + b"<p>filler \xc3\xa9 text</p>" * 8000)
TAIL = b'<a id="last" href="http://stream.test/last">last</a>' + b"<p>more</p>" * 8000 + b"</body></html>"
READ_WAIT = 15


def make_site(release: asyncio.Event):  # type: ignore[no-untyped-def]
    def factory(log: HitLog, name: str) -> web.Application:
        async def big(request: web.Request) -> web.StreamResponse:
            # gzip by hand, flushed after the first part (aiohttp's own compression holds it back).
            response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8",
                                                   "Content-Encoding": "gzip"})
            packer = zlib.compressobj(wbits=31)
            await response.prepare(request)
            await response.write(packer.compress(HEAD) + packer.flush(zlib.Z_SYNC_FLUSH))
            await release.wait()  # the rest only once the client saw the start
            await response.write(packer.compress(TAIL) + packer.flush())
            await response.write_eof()
            return response

        async def home(request: web.Request) -> web.Response:
            return web.Response(text="<p>home</p>", content_type="text/html")

        app = web.Application(middlewares=[hit_middleware(log, name)])
        app.router.add_get("/big", big)
        app.router.add_get("/", home)
        return app

    return factory


async def _read_until(resp: aiohttp.ClientResponse, marker: bytes) -> bytes:
    got = b""
    async with asyncio.timeout(READ_WAIT):
        while marker not in got:
            chunk = await resp.content.readany()
            assert chunk, f"the body ended before {marker!r}"
            got += chunk
    return got


async def test_a_large_pages_rewritten_start_reaches_the_client_before_the_target_sent_its_end(
        serve_world: ServeWorld, start_server: StartCobrowse) -> None:
    release = asyncio.Event()
    site = await serve_world({HOST: make_site(release)})
    server = await start_server(resolve_overrides=site.resolve_overrides())
    created, leader = await start_session(server, f"{TARGET}/")
    follower = await join(server, created)
    url = server.proxy_url(created["id"], HOST, "/big")
    proxied = f"--{created['id']}.{DOMAIN}:{server.port}".encode()
    async with aiohttp.ClientSession() as client, _get(client, server.port, url, leader.cookies) as driver:
        assert driver.status == 200 and driver.headers["Content-Type"] == "text/html; charset=utf-8"
        start = await _read_until(driver, b'id="first"')
        assert not release.is_set()
        assert b"/__cb/runtime.js" in start and b'href="http://h-stream-test' + proxied + b'/first"' in start
        # A follower asking now is served from the driver's record as it grows: its start too.
        async with _get(client, server.port, url, follower.cookies) as copy:
            assert copy.status == 200
            copy_start = await _read_until(copy, b'id="first"')
            assert not release.is_set()
            release.set()
            copy_body = copy_start + await copy.read()
        body = start + await driver.read()
    for page in (body, copy_body):
        assert page.endswith(b"</body></html>") and b'href="http://h-stream-test' + proxied + b'/last"' in page
        assert page.count(b"filler \xc3\xa9 text") == 8000
    assert [h.path for h in site.log].count("/big") == 1  # the follower's came from the store


def _get(client: aiohttp.ClientSession, port: int, url: str, cookies: dict[str, str] | None
         ) -> aiohttp.client._RequestContextManager:
    """A navigation to proxy ``url`` with these participant cookies, sent to 127.0.0.1."""
    parts = url.split("/", 3)
    headers = {"Host": parts[2], "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate",
               "Accept-Encoding": "gzip"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return client.get(f"http://127.0.0.1:{port}/{parts[3]}", headers=headers, allow_redirects=False)
