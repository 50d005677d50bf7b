"""Threat model, sync channel, in real Chromium: forged sync messages run nothing in a follower.

Two attackers, two locks:
- the leader's page's own script opens ``/__cb/sync`` (the browser adds the page's participant
  cookie and Origin) and sends what the runtime never would: the server must refuse the navs
  and relay the contentEditable markup only for the follower's runtime to make it inert;
- a message injected straight into the follower's sync socket (Playwright's WebSocket routing,
  standing in for a server that let one through): the runtime must refuse it by itself.

A payload that ran would leave ``pwned`` in the follower's sessionStorage (it survives the
fence's navigation to a page of the same origin) or reach the canary (a slash-less
``http:<canary>/`` is the real web to a browser). Every negative check comes after a later valid
message was applied on the follower.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, WebSocketRoute
from world.canary import Canary
from world.harness import Cobrowse, StartCobrowse
from world.party import BrowserParty as Party
from world.party import join_follower, open_party, start_pair
from world.targets import World

A = "http://sync-a.test/"
PWNED = "() => sessionStorage.getItem('pwned')"


@pytest.fixture
async def server(sync_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sync_world.resolve_overrides())


def forged_navs(canary: Canary, server: Cobrowse) -> list[str]:
    return [
        "javascript:sessionStorage.setItem('pwned','javascript');void 0",
        "JavaScript:sessionStorage.setItem('pwned','mixed-case');void 0",
        "java\tscript:sessionStorage.setItem('pwned','tab');void 0",
        "\x01javascript:sessionStorage.setItem('pwned','control');void 0",
        "data:text/html,<script>opener.sessionStorage.setItem('pwned','data')</script>",
        "blob:http://sync-a.test/0b0b0b0b-0000-4000-8000-000000000000",
        "vbscript:msgbox(1)",
        f"http:{canary.netloc}/slashless",
        f"http:\\\\{canary.netloc}\\backslashes",
        f"{server.control}/",
    ]


# What a contentEditable update may carry; on the follower only the <b> and the text may stay.
RICH_ATTACK = (
    "<b id=\"bold\">bold</b> text"
    "<img src=\"x\" onerror=\"sessionStorage.setItem('pwned','img')\">"
    "<script>sessionStorage.setItem('pwned','script')</script>"
    "<iframe srcdoc=\"<script>parent.sessionStorage.setItem('pwned','srcdoc')</script>\"></iframe>"
    "<a id=\"link\" href=\"javascript:sessionStorage.setItem('pwned','href')\" onclick=\"x()\">link</a>"
    "<svg><image href=\"x\" onerror=\"sessionStorage.setItem('pwned','svg')\"/></svg>"
    "<details open ontoggle=\"sessionStorage.setItem('pwned','toggle')\">d</details>"
    "<object data=\"javascript:sessionStorage.setItem('pwned','object')\"></object>"
    "<span style=\"background:url(javascript:x)\">styled</span>"
)

INERT = """() => {
  const rich = document.getElementById('rich');
  const bad = rich.querySelectorAll('script, iframe, object, embed, svg, style, [srcdoc], [style]');
  const handlers = Array.from(rich.querySelectorAll('*')).flatMap((el) =>
    Array.from(el.attributes).filter((a) => a.name.startsWith('on')).map((a) => a.name));
  const link = rich.querySelector('a');
  return { bad: bad.length, handlers, href: link ? link.getAttribute('href') : 'no link',
           text: rich.textContent };
}"""

# The leader page's own script: one socket per forged message (a refused one is closed).
FORGE = """async (messages) => {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/__cb/sync';
  const outcomes = [];
  for (const [i, message] of messages.entries()) {
    outcomes.push(await new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', page: 'forger-' + i + '-' + Math.random(),
                                                 window: 'main', url: window.__cbRuntime.realHref(), last: 0 }));
      ws.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        if (msg.type === 'welcome') ws.send(JSON.stringify(Object.assign({ seq: 1 }, message)));
        if (msg.type === 'ack') { resolve('accepted'); ws.close(); }
      };
      ws.onclose = (e) => resolve(e.code);
    }));
  }
  return outcomes;
}"""


async def assert_nothing_ran(follower: Party, canary: Canary) -> None:
    assert await follower.page.evaluate(PWNED) is None
    assert canary.connections == 0


async def test_forged_sync_messages_from_the_leaders_page_run_nothing_in_the_follower(
        browser: Browser, server: Cobrowse, canary: Canary) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    navs = forged_navs(canary, server)
    messages: list[dict[str, Any]] = [{"type": "nav", "url": url, "kind": "load"} for url in navs]
    messages.append({"type": "window", "action": "open", "window": "w9", "url": navs[0]})
    messages.append({"type": "input", "target": ["#rich"], "value": RICH_ATTACK})
    outcomes = await leader.page.evaluate(FORGE, messages)
    assert outcomes == [1007] * (len(navs) + 1) + ["accepted"]

    # Fence 1: the markup (relayed: it is text to the server) arrived and was applied inert.
    await follower.wait_js("() => document.querySelector('#rich b') !== null")
    inert = await follower.page.evaluate(INERT)
    assert inert == {"bad": 0, "handlers": [], "href": None, "text": "bold textlinkdstyled"}
    # Fence 2: a valid navigation sent after every forged one is followed.
    await leader.page.click("#to-two")
    await follower.wait_url("http://sync-a.test/two")
    await assert_nothing_ran(follower, canary)


class Injector:
    """Playwright's WebSocket routing on the follower's context: forwards the real sync socket
    and lets the test send frames to the page as if the server had sent them."""

    def __init__(self) -> None:
        self.route: WebSocketRoute | None = None

    async def install(self, context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/__cb/sync$"), self._route)

    def _route(self, route: WebSocketRoute) -> None:
        route.connect_to_server()
        self.route = route

    def send(self, message: dict[str, Any]) -> None:
        assert self.route is not None
        self.route.send(json.dumps(message))


async def test_the_follower_runtime_refuses_forged_navs_and_markup_by_itself(
        browser: Browser, server: Cobrowse, canary: Canary) -> None:
    created = await server.create_session(A)
    leader = await open_party(browser, created["leader_url"])
    await leader.wait_connected()
    injector = Injector()
    follower = await join_follower(browser, created, before=injector.install)
    await follower.wait_url(A)
    navs = forged_navs(canary, server)
    other = await server.create_session(A)
    navs.append(server.proxy_url(other["id"], "sync-a.test", "/two"))  # another session's page
    # No "n": delivered at once, as a relay-numbered message would be.
    for url in navs:
        injector.send({"type": "nav", "url": url, "kind": "load", "from": leader.id})
    await follower.wait_js("(n) => window.__cbSync.status().counters.refused >= n", len(navs))
    injector.send({"type": "window", "action": "open", "window": "w9", "url": navs[0], "from": leader.id})
    injector.send({"type": "input", "target": ["#rich"], "value": RICH_ATTACK, "from": leader.id})
    await follower.wait_js("() => document.querySelector('#rich b') !== null")
    inert = await follower.page.evaluate(INERT)
    assert inert == {"bad": 0, "handlers": [], "href": None, "text": "bold textlinkdstyled"}
    # The fence: the leader's real navigation, relayed after them all through the same socket, is
    # followed (a follower only loads what the driver loaded: it cannot go anywhere alone).
    await leader.page.click("#to-two")
    await follower.wait_url("http://sync-a.test/two")
    await assert_nothing_ran(follower, canary)
    assert len(follower.context.pages) == 1  # the forged window.open opened nothing
