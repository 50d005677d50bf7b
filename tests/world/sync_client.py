"""Scripted participants: raw HTTP and sync-socket clients that play a browser by hand.

``lead(server, created)`` redeems a session's leader link, ``join(server, created, name)`` posts
the join form (the names ``world.party`` uses for participants in Chromium); ``start_session``
creates a session and leads it. ``connect`` opens ``/__cb/sync``; ``hello``, ``send``, ``expect``
speak the sync protocol. A non-browser client cannot resolve ``*.localhost``: sockets connect to
127.0.0.1 with the proxy host in ``Host``, and the ``Origin`` and ``Cookie`` headers set by hand
(a browser would send them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from world.harness import Cobrowse, cookies_from

TARGET = "http://example.com/start"
TARGET_HOST = "example.com"
WAIT = 10.0


@dataclass
class ScriptedParty:
    """One participant played by hand: its cookies, and after ``hello`` its participant id."""

    cookies: dict[str, str]
    id: str = ""
    seq: int = 0
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)


async def lead(server: Cobrowse, created: dict[str, Any]) -> ScriptedParty:
    """The session's leader: its link redeemed for the participant cookie."""
    reply = await server.request("GET", created["leader_url"], cookies={})
    assert reply.status == 302, reply.text[:300]
    return ScriptedParty(cookies_from(reply.headers))


async def join(server: Cobrowse, created: dict[str, Any], name: str = "Vic") -> ScriptedParty:
    """A follower: the join form posted as ``name``."""
    reply = await post_join(server, created, name)
    assert reply.status == 303, reply.text[:300]
    return ScriptedParty(cookies_from(reply.headers))


async def start_session(server: Cobrowse, url: str = TARGET) -> tuple[dict[str, Any], ScriptedParty]:
    """A new session on ``url`` and its leader."""
    created = await server.create_session(url)
    return created, await lead(server, created)


async def post_join(server: Cobrowse, created: dict[str, Any], name: str = "Vic",
                    invitation: str | None = None, cookies: dict[str, str] | None = None) -> Any:
    issued = parse_qs(urlsplit(created["follower_url"]).query)["invitation"][0]
    form = {"invitation": issued if invitation is None else invitation, "name": name}
    return await server.request("POST", f"{server.control}/join/{created['id']}", data=form,
                                cookies=cookies or {})


def host_of(server: Cobrowse, created: dict[str, Any], host: str = TARGET_HOST) -> str:
    return urlsplit(server.proxy_url(created["id"], host)).netloc


async def connect(server: Cobrowse, created: dict[str, Any], party: ScriptedParty | None, *,
                  origin: str | None = None, host: str | None = None) -> aiohttp.ClientWebSocketResponse:
    netloc = host or host_of(server, created)
    headers = {"Host": netloc, "Origin": f"http://{netloc}" if origin is None else origin}
    if party is not None and party.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in party.cookies.items())
    ws = await server.client.ws_connect(f"http://127.0.0.1:{server.port}/__cb/sync", headers=headers,
                                        timeout=aiohttp.ClientWSTimeout(ws_close=WAIT))
    if party is not None:
        party.sockets.append(ws)
    return ws


async def send(ws: aiohttp.ClientWebSocketResponse, party: ScriptedParty, kind: str, /, **fields: Any) -> int:
    party.seq += 1
    await ws.send_str(json.dumps({"type": kind, "seq": party.seq, **fields}))
    return party.seq


async def hello(ws: aiohttp.ClientWebSocketResponse, party: ScriptedParty, page: str, *, last: int = 0,
                url: str = TARGET, window: str = "main") -> dict[str, Any]:
    await ws.send_str(json.dumps({"type": "hello", "page": page, "window": window, "url": url, "last": last,
                                  "vw": 1280, "vh": 800}))
    welcome = await expect(ws, "welcome")
    party.id = welcome["you"]["id"]
    return welcome


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | None:
    """The next JSON message, or None once the socket is closed."""
    frame = await ws.receive(timeout=WAIT)
    if frame.type != aiohttp.WSMsgType.TEXT:
        return None
    message: dict[str, Any] = json.loads(frame.data)
    return message


async def expect(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    """Skip messages until one of ``kind`` (with the given field values) arrives."""
    while True:
        message = await receive(ws)
        assert message is not None, f"socket closed ({ws.close_code}) while waiting for {kind}"
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message


async def until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every message left before the server closes the socket."""
    seen: list[dict[str, Any]] = []
    while (message := await receive(ws)) is not None:
        seen.append(message)
    return seen


async def scroll_relayed(server: Cobrowse, created: dict[str, Any], leader: ScriptedParty, follower: ScriptedParty,
                         y: int = 40) -> tuple[aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse]:
    """The leader's and the follower's sockets, both welcomed, once the leader's scroll to ``y``
    has reached the follower: three messages in (two hellos and the scroll). Returns (leader's, follower's)."""
    lws, fws = await connect(server, created, leader), await connect(server, created, follower)
    await hello(lws, leader, "p1")
    await hello(fws, follower, "p2")
    await send(lws, leader, "scroll", x=0, y=y)
    await expect(fws, "scroll", y=y)
    return lws, fws
