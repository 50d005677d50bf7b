"""Correlation tokens end to end: a follower's page that draws only replies to requests it made
itself draws the reply to the leader's request, which reached the target once (issue 7, item 5).

One target site (``ask.test``, real aiohttp on loopback): its page opens a WebSocket with a client
id of its own (``crypto.randomUUID()``) and, on a click, sends ``{id, client, n}`` with a fresh id;
the target answers ``{re: id, client, answer: 2n}``; the page draws an answer only when ``re`` is an
id it sent and ``client`` its own id, as JupyterLab draws kernel output. The frames are text or
binary (UTF-8 JSON in an ArrayBuffer), the page's choice from its URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web
from playwright.async_api import Browser
from world import World, open_world
from world.harness import Cobrowse, StartCobrowse
from world.hits import HitLog, hit_middleware
from world.party import start_pair
from world.targets import AppFactory

SITE = "http://ask.test"
FOLLOWER_WAIT = 30.0  # far longer than the test: a reply the follower never drew would time it out

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Ask</title></head>
<body><button id="ask" type="button">ask</button><ul id="answers"></ul>
<script>
const binary = location.search === '?binary';
const client = crypto.randomUUID();
const asked = new Set();
const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
ws.binaryType = 'arraybuffer';
ws.onmessage = (e) => {
  const m = JSON.parse(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data));
  if (m.client !== client || !asked.has(m.re)) return;
  asked.delete(m.re);
  const li = document.createElement('li');
  li.textContent = 'answer ' + m.answer;
  document.getElementById('answers').append(li);
};
document.getElementById('ask').addEventListener('click', () => {
  const id = crypto.randomUUID();
  asked.add(id);
  const text = JSON.stringify({ id, client, n: 21 });
  ws.send(binary ? new TextEncoder().encode(text).buffer : text);
});
</script></body></html>"""


def ask_app(received: list[str]) -> AppFactory:
    def factory(log: HitLog, host: str) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        async def ws(request: web.Request) -> web.WebSocketResponse:
            socket = web.WebSocketResponse()
            await socket.prepare(request)
            async for message in socket:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                text = message.data if message.type == WSMsgType.TEXT else message.data.decode()
                received.append(text)
                asked = json.loads(text)
                answer = json.dumps({"re": asked["id"], "client": asked["client"], "answer": asked["n"] * 2})
                if message.type == WSMsgType.TEXT:
                    await socket.send_str(answer)
                else:
                    await socket.send_bytes(answer.encode())
            return socket

        app = web.Application(middlewares=[hit_middleware(log, host)])
        app.router.add_get("/", page)
        app.router.add_get("/ws", ws)
        return app

    return factory


@pytest.fixture
def received() -> list[str]:
    return []


@pytest.fixture
async def ask_world(received: list[str]) -> AsyncIterator[World]:
    async with open_world({"ask.test": ask_app(received)}) as world:
        yield world


@pytest.fixture
async def server(ask_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=ask_world.resolve_overrides(), follower_wait=FOLLOWER_WAIT)


ANSWERS = "() => [...document.querySelectorAll('#answers li')].map((li) => li.textContent).join(', ')"


@pytest.mark.parametrize("frames", ["text", "binary"])
async def test_follower_draws_the_reply_to_its_own_twin_request_and_the_target_is_asked_once(
        browser: Browser, server: Cobrowse, ask_world: World, received: list[str], frames: str) -> None:
    url = SITE + ("/?binary" if frames == "binary" else "/")
    _, leader, follower = await start_pair(browser, server, url)
    for party in (leader, follower):
        await party.wait_js("() => !!document.getElementById('ask')")
    await leader.page.click("#ask")
    await leader.wait_js(f"() => ({ANSWERS})() === 'answer 42'")
    await follower.wait_js(f"() => ({ANSWERS})() === 'answer 42'")
    # The follower drew it, so its own request reached the proxy (paired there) and went no further.
    assert len(received) == 1
    assert [h.path for h in ask_world.log if h.path == "/ws"] == ["/ws"]
    await leader.page.click("#ask")
    await follower.wait_js(f"() => ({ANSWERS})() === 'answer 42, answer 42'")
    assert len(received) == 2


async def test_drifted_follower_whose_page_opened_a_target_socket_is_not_reloaded_and_keeps_what_it_drew(
        browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, SITE + "/")
    await leader.wait_js("() => !!document.getElementById('ask')")
    await leader.page.click("#ask")
    await follower.wait_js(f"() => ({ANSWERS})() === 'answer 42'")
    await follower.page.evaluate("() => { window.__sameDocument = true; document.body.append('tampered'); }")
    # The server tells the drifted follower to reload; its page keeps what only the socket brought.
    await follower.wait_js("() => window.__cbSync.status().counters.kept >= 1")
    assert await follower.page.evaluate("() => window.__sameDocument === true")
    assert await follower.page.evaluate(ANSWERS) == "answer 42"
