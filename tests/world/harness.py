"""Run the cobrowse server under test in-process and talk to it like a non-browser client.

The server is the lead's ``proxy.app.build_app(Config)`` run by ``proxy.serving.make_runner`` (the
runner ``cobrowse serve`` uses) on a socket bound first (the port is part of every proxy URL, so
Config must know it before the app is built; see ``world.targets.listen``). A client that
is not a browser cannot resolve ``*.localhost``: ``Cobrowse.request`` connects to 127.0.0.1 and
sends the proxy host in the ``Host`` header. Cookies are carried by hand (the participant cookie
is scoped to the domain, which no client jar on an IP address would apply).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy

from world.targets import free_port, listen, serve

DOMAIN = "cobrowse.localhost"
API_KEY = "test-key"
AGENT = {"id": "a1", "name": "Ann"}

__all__ = ["AGENT", "API_KEY", "DOMAIN", "Cobrowse", "Reply", "StartCobrowse", "cookies_from", "free_port",
           "start_cobrowse", "stop_cobrowse", "view_in"]


def cookies_from(headers: Any) -> dict[str, str]:
    """Name -> value of every ``Set-Cookie`` in ``headers`` (later ones win)."""
    found: dict[str, str] = {}
    for value in headers.getall("Set-Cookie", []):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(value)
        found.update({name: morsel.value for name, morsel in parsed.items()})
    return found


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    truncated: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(slots=True)
class Cobrowse:
    """A running cobrowse server and a raw HTTP client for it."""

    port: int
    config: Any
    runner: web.AppRunner
    client: aiohttp.ClientSession
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def control(self) -> str:
        return f"http://{DOMAIN}:{self.port}"

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        cookies: dict[str, str] | None = None,
        max_body: int = 1 << 20,
        deadline: float = 30,
    ) -> Reply:
        """One request to ``url`` (a proxy or control-plane URL), redirects not followed.

        At most ``max_body`` bytes of the body are read; ``truncated`` says whether more came.
        """
        parts = urlsplit(url)
        target = f"http://127.0.0.1:{self.port}{parts.path or '/'}"
        if parts.query:
            target += "?" + parts.query
        # identity unless asked: the client does not decompress, so bodies read as the proxy sent them.
        sent = {"Host": parts.netloc, "Accept-Encoding": "identity", **(headers or {})}
        jar = self.cookies if cookies is None else cookies
        if jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        async with self.client.request(
            method,
            target,
            headers=sent,
            json=json,
            data=data,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=deadline),
        ) as resp:
            body = bytearray()
            truncated = False
            async for chunk in resp.content.iter_chunked(65536):
                body += chunk
                if len(body) > max_body:
                    truncated = True
                    break
            got = CIMultiDictProxy(resp.headers.copy())
            return Reply(resp.status, got, bytes(body[:max_body]), truncated)

    async def api(self, method: str, path: str, json: Any = None, key: str | None = API_KEY) -> Reply:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return await self.request(method, f"{self.control}{path}", headers=headers, json=json, cookies={})

    async def create_session(self, url: str) -> dict[str, Any]:
        reply = await self.api("POST", "/api/v1/sessions", {"url": url, "agent": AGENT})
        assert reply.status == 201, f"create session answered {reply.status}: {reply.text[:500]}"
        created: dict[str, Any] = jsonlib.loads(reply.body)
        return created

    async def redeem(self, leader_url: str) -> Reply:
        """Open a leader link; on success the participant cookie joins ``self.cookies``."""
        reply = await self.request("GET", leader_url, cookies={})
        self.cookies.update(cookies_from(reply.headers))
        return reply

    def proxy_url(self, session_id: str, host: str, path: str = "/", view: str = "") -> str:
        """Proxy URL of ``http://<host><path>`` in a session (DNS hosts on port 80 only), in a
        participant's ``view`` (``view_in`` reads it from a URL the participant landed on)."""
        label = "h-" + host.replace("-", "--").replace(".", "-")
        tag = f"-{view}" if view else ""
        return f"http://{label}--{session_id}{tag}.{DOMAIN}:{self.port}{path}"


def view_in(url: str) -> str:
    """The participant view a proxy URL's host carries ("" when none)."""
    from rewriter.space import parse_proxy_host

    parsed = parse_proxy_host(urlsplit(url).netloc, DOMAIN)
    return parsed.view if parsed else ""


StartCobrowse = Callable[..., Awaitable[Cobrowse]]


async def start_cobrowse(store: Any = None, **config_fields: Any) -> Cobrowse:
    """Build and start the server; ``config_fields`` override the test defaults; ``store``: the
    ``SessionStore`` to run on (a fresh ``MemoryStore`` when None; several servers given stores
    of one Redis namespace stand for several processes)."""
    from proxy.app import build_app
    from proxy.config import Config
    from proxy.serving import make_runner

    sock = listen()
    port = int(sock.getsockname()[1])
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "domain": DOMAIN,
        "api_key": API_KEY,
        "allow_private": True,
        **config_fields,
    }
    try:
        config = Config(**fields)
        served = await serve(make_runner(build_app(config, store), access_log=None, shutdown_timeout=0.5), sock=sock)
    except BaseException:
        sock.close()
        raise
    runner = served.runner
    client = aiohttp.ClientSession(auto_decompress=False)
    return Cobrowse(port=port, config=config, runner=runner, client=client)


async def stop_cobrowse(server: Cobrowse) -> None:
    await server.client.close()
    await server.runner.cleanup()
