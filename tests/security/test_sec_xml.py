"""Threat-model row: hostile XML. The XML rewriter (lxml) reads no DTD and no external entity,
so an XML body can never make the proxy fetch a URL or read a file.

A canary stands where each external reference points (a DTD, a general entity, a parameter
entity, an XInclude); the positive event is the rewritten answer itself (its own URL mapped
into the proxy space), and the canary fixture checks again at teardown.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from world import HitLog, ServeWorld, World
from world.canary import Canary
from world.harness import Cobrowse, StartCobrowse

from rewriter.html import PageContext
from rewriter.space import ProxySpace
from rewriter.xml import rewrite_xml

TARGET = "http://xml.test"
SPACE = ProxySpace("abcdefghij", "cobrowse.localhost", "http", 8080)


def hostile(to: str) -> bytes:
    """An SVG document whose every external reference points at ``to``."""
    return f"""<?xml version="1.0"?>
<!DOCTYPE svg SYSTEM "http://{to}/doctype.dtd" [
  <!ENTITY % remote SYSTEM "http://{to}/param.dtd">
  %remote;
  <!ENTITY ext SYSTEM "http://{to}/entity.txt">
]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude">
  <a href="https://www.example.com/next"><text>&ext;</text></a>
  <xi:include href="http://{to}/xinclude.xml"/>
</svg>""".encode()


async def test_the_xml_rewriter_loads_no_dtd_and_no_external_entity(canary: Canary) -> None:
    ctx = PageContext(url="https://www.example.com/doc.svg", space=SPACE, inject="")
    # In a thread, so the canary is there to accept while a fetch (which would block the call) runs.
    out = await asyncio.to_thread(rewrite_xml, hostile(canary.netloc), ctx, None)
    assert b"http://s-www-example-com--abcdefghij.cobrowse.localhost:8080/next" in out
    assert b"&ext;" in out
    assert canary.connections == 0, canary.report()


async def _hostile_svg(request: web.Request) -> web.Response:
    return web.Response(body=hostile(request.query["to"]), content_type="image/svg+xml")


@pytest.fixture
async def target(serve_world: ServeWorld) -> World:
    def make(log: HitLog, name: str) -> web.Application:
        app = web.Application()
        app.router.add_get("/doc.svg", _hostile_svg)
        return app

    return await serve_world({"xml.test": make})


async def test_through_the_proxy_a_hostile_svg_document_reaches_no_canary(
        target: World, start_server: StartCobrowse, canary: Canary) -> None:
    server: Cobrowse = await start_server(resolve_overrides=target.resolve_overrides())
    created = await server.create_session(f"{TARGET}/")
    await server.redeem(str(created["leader_url"]))
    url = server.proxy_url(str(created["id"]), "xml.test", f"/doc.svg?to={canary.netloc}")
    reply = await server.request("GET", url, headers={"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"})
    assert reply.status == 200 and reply.header("Content-Type") == "image/svg+xml; charset=utf-8"
    assert f"--{created['id']}.cobrowse.localhost:{server.port}/next".encode() in reply.body
    assert canary.connections == 0, canary.report()
