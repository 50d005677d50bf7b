"""The injected runtime as an asset: minified, content-hashed, one URL for every proxied origin, coded as accepted."""

from __future__ import annotations

import gzip
import re
from importlib import resources

import brotlicffi
from aiohttp import web
from world.harness import StartCobrowse
from world.targets import serve_app

from proxy.keys import RUNTIME
from proxy.runtime_asset import IMMUTABLE, REVALIDATE, RuntimeAsset, accepted_codings

_SRC = re.compile(r'<script src="([^"]+)" crossorigin="anonymous" data-cb="[^"]*"></script>')


def test_the_runtime_is_minified_and_keeps_its_named_wrapper() -> None:
    asset = RuntimeAsset.load("http://cobrowse.localhost:8080")
    folder = resources.files("static").joinpath("runtime")
    joined = sum(len(folder.joinpath(n).read_bytes()) for n in folder.joinpath("ORDER").read_text("utf-8").split())
    text = asset.body.decode("utf-8")
    assert text.startswith('(function cbRuntime(cbGiven){"use strict";')
    assert len(asset.body) < 0.75 * joined  # comments and indentation gone
    assert asset.url == f"http://cobrowse.localhost:8080/__cb/runtime.js?v={asset.version}"
    assert asset.version in asset.etag


def test_accepted_codings_honour_q_zero_and_case() -> None:
    assert accepted_codings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_codings("BR;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_codings("identity") == {"identity"}
    assert accepted_codings("") == set()
    assert accepted_codings("br;q=x") == set()


async def test_the_control_plane_serves_the_runtime_immutable_by_hash_and_coded_as_accepted(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    asset = server.runner.app[RUNTIME]
    assert asset.url.startswith(server.control + "/__cb/runtime.js?v=")
    expected = {"gzip, deflate, br": "br", "gzip": "gzip", "br;q=0, gzip": "gzip", "identity": ""}
    for accept, coding in expected.items():
        reply = await server.request("GET", asset.url, headers={"Accept-Encoding": accept}, cookies={})
        assert reply.status == 200 and reply.header("Cache-Control") == IMMUTABLE
        assert reply.header("Content-Encoding", ) == (coding or None)
        decode = {"br": brotlicffi.decompress, "gzip": gzip.decompress, "": bytes}[coding]
        assert decode(reply.body) == asset.body, accept
        assert reply.header("Access-Control-Allow-Origin") == "*" and reply.header("Vary") == "Accept-Encoding"
        assert reply.header("Content-Type") == "application/javascript; charset=utf-8"
    # Another hash (a page from before a deploy) gets today's body, never cached under its URL.
    stale = await server.request("GET", f"{server.control}/__cb/runtime.js?v=0123456789abcdef", cookies={})
    assert stale.status == 200 and stale.header("Cache-Control") == REVALIDATE
    again = await server.request("GET", asset.url, headers={"If-None-Match": asset.etag}, cookies={})
    assert again.status == 304 and again.body == b""


async def test_pages_of_every_origin_of_a_session_load_the_one_runtime_url(start_server: StartCobrowse) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><title>{request.host}</title><p>hi", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner, port = await serve_app(app)
    try:
        server = await start_server(resolve_overrides={f"{h}:80": ("127.0.0.1", port) for h in ("a.test", "b.test")})
        created = await server.create_session("http://a.test/")
        assert (await server.redeem(created["leader_url"])).status in (302, 303)
        sources = set()
        for host in ("a.test", "b.test"):
            reply = await server.request("GET", server.proxy_url(created["id"], host, "/"),
                                         headers={"Sec-Fetch-Dest": "document"})
            assert reply.status == 200, reply.text[:300]
            sources.update(_SRC.findall(reply.text))
        assert sources == {server.runner.app[RUNTIME].url}
    finally:
        await runner.cleanup()
