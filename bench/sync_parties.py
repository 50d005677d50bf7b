"""Participants of the co-browsing benchmark: sessions, browser contexts, and raw credentials.

A ``Party`` is one participant's browser context and page in the one headless Chromium, with
what its browser received: the payload bytes of its sync socket's frames (Playwright
``framereceived``/``framesent``) and every request it finished (``Request.sizes()`` gives the
bytes transferred). ``start_session`` creates a session through the REST API, opens the leader
link in one context and joins each follower through the join page in its own context, as
separate people would. ``participant_cookie`` does the same without a browser, for raw sockets.
Everything is read through the page (``window.__cbSync``, ``__cbRuntime``, the DOM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, Request, WebSocket

DOMAIN = "cobrowse.localhost"
API_KEY = "bench-key"
TARGET = "http://shop.bench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
WAIT_MS = 20_000
VIEWPORT = {"width": 1200, "height": 800}


@dataclass(slots=True)
class Party:
    """One participant: its browser context, its page, and what its browser received."""

    context: BrowserContext
    page: Page
    sync_in: int = 0  # payload bytes of frames received on the sync socket
    sync_out: int = 0
    frames_in: int = 0
    requests: list[Request] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)  # URLs requested and not yet finished or failed
    loads: int = 0  # documents loaded in the page (a drift repair reloads it)

    def watch(self) -> None:
        def on_socket(ws: WebSocket) -> None:
            if not ws.url.endswith("/__cb/sync"):
                return
            # Playwright tags each handler with an attribute: plain functions, not bound methods.
            ws.on("framereceived", lambda payload: self._received(payload))
            ws.on("framesent", lambda payload: self._sent(payload))

        self.page.on("websocket", on_socket)
        self.page.on("request", lambda request: self.pending.add(request.url))
        self.page.on("load", lambda page: self._loaded())
        self.page.on("requestfinished", lambda request: self._done(request, True))
        self.page.on("requestfailed", lambda request: self._done(request, False))

    def _loaded(self) -> None:
        self.loads += 1

    def _done(self, request: Request, finished: bool) -> None:
        self.pending.discard(request.url)
        if finished:
            self.requests.append(request)

    def _received(self, payload: str | bytes) -> None:
        self.frames_in += 1
        self.sync_in += len(payload.encode() if isinstance(payload, str) else payload)

    def _sent(self, payload: str | bytes) -> None:
        self.sync_out += len(payload.encode() if isinstance(payload, str) else payload)

    def reset(self) -> None:
        self.sync_in = self.sync_out = self.frames_in = self.loads = 0
        self.requests.clear()

    async def page_bytes(self) -> int:
        """Response body bytes (as transferred) of everything loaded from the proxy's hosts."""
        total = 0
        for request in self.requests:
            if f".{DOMAIN}" in (urlsplit(request.url).hostname or ""):
                total += (await request.sizes())["responseBodySize"]
        return total

    async def wait(self, expression: str, arg: Any = None) -> None:
        await self.page.wait_for_function(expression, arg=arg, timeout=WAIT_MS)

    async def describe(self) -> str:
        """Where the page is and what its sync client says: for error messages."""
        try:
            got: str = await self.page.evaluate(
                "() => JSON.stringify({url: window.__cbRuntime && window.__cbRuntime.realHref(),"
                " ready: document.readyState, loaded: document.body && document.body.dataset.loaded,"
                " sync: window.__cbSync && window.__cbSync.status()})")
        except Exception as exc:  # a page mid-navigation cannot answer: say so
            return f"{self.page.url}: {exc}"
        return f"{got} pending: {sorted(self.pending)}"

    async def wait_at(self, path: str, extra: str = "true") -> None:
        """Wait until the page is at ``path`` (real URL), loaded, connected, and ``extra`` holds."""
        await self.wait("(p) => window.__cbRuntime && window.__cbSync"
                        " && new URL(window.__cbRuntime.realHref()).pathname === p"
                        " && window.__cbSync.status().status === 'connected'"
                        f" && document.readyState === 'complete' && ({extra})", path)


async def new_party(browser: Browser, url: str, init_script: str = "") -> Party:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    party = Party(context, page)
    party.watch()
    await page.goto(url)
    return party


async def create_session(port: int, path: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client, client.post(
            f"http://127.0.0.1:{port}/api/v1/sessions",
            headers={"Host": f"{DOMAIN}:{port}", "Authorization": f"Bearer {API_KEY}"},
            json={"url": TARGET + path, "agent": {"id": "bench", "name": "Bench"}}) as reply:
        if reply.status != 201:
            raise RuntimeError(f"create session answered {reply.status}: {await reply.text()}")
        created: dict[str, Any] = await reply.json()
        return created


async def start_session(browser: Browser, port: int, path: str, followers: int,
                        init_script: str = "") -> tuple[Party, list[Party]]:
    """A fresh session on ``path``: the leader, then ``followers`` joined through the join page."""
    created = await create_session(port, path)
    leader = await new_party(browser, created["leader_url"], init_script)
    await leader.wait_at(path)
    crowd: list[Party] = []
    for i in range(followers):
        follower = await new_party(browser, created["follower_url"], init_script)
        await follower.page.fill("#name", f"F{i + 1}")
        await follower.page.click("button[type=submit]")
        await follower.wait_at(path)
        crowd.append(follower)
    await leader.wait("(n) => window.__cbSync.status().participants.filter((p) => p.connected).length === n",
                      followers + 1)
    return leader, crowd


async def close_all(parties: Sequence[Party]) -> None:
    for party in parties:
        await party.context.close()


async def participant_cookie(client: aiohttp.ClientSession, port: int, url: str, join: bool) -> tuple[str, str]:
    """Redeem a leader link or join through a follower link: (cookie, proxy origin landed on)."""
    control = f"http://127.0.0.1:{port}"
    host = {"Host": f"{DOMAIN}:{port}"}
    parts = urlsplit(url)
    if join:
        form = {"invitation": parse_qs(parts.query)["invitation"][0], "name": "raw"}
        reply_cm = client.post(control + parts.path, headers=host, data=form, allow_redirects=False)
    else:
        reply_cm = client.get(control + parts.path + "?" + parts.query, headers=host, allow_redirects=False)
    async with reply_cm as reply:
        cookie = reply.headers["Set-Cookie"].split(";", 1)[0]
        landed = urlsplit(reply.headers["Location"])
    return cookie, f"{landed.scheme}://{landed.netloc}"


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
