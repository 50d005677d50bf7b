"""Threat model: target policy (domain allow/deny lists, bad ports) on every path, cookie writes
only from the origin's own page, aliases bounded per session.

A real cobrowse server on loopback reaches ``ok.test`` (a small target: a page, a WebSocket echo,
a CORS endpoint) through resolver overrides. Every refused name and port is mapped to a canary,
so a path that went around the policy would show up as a connection there. Each refusal is
fenced by an allowed exchange on the same path that succeeds afterwards.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from world.canary import Canary
from world.harness import DOMAIN, Cobrowse, Reply, StartCobrowse
from world.targets import serve_app

from proxy.keys import STORE
from rewriter.origins import Origin
from rewriter.space import ProxySpace
from sessions.model import MAX_ALIASES, MAX_REACHED_ORIGINS, Session
from sessions.policy import BAD_PORTS, SERVER_BAD_PORTS, DomainLists, TargetPolicy

WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def target_app(hits: Counter[str], links: int = 0) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        hits[request.path] += 1
        count = links if request.path == "/links" else 0
        hosts = "".join(f'<a href="http://{"x" * 60}{i}.test/">{i}</a>' for i in range(count))
        return web.Response(text=f"<html><body><p>ok</p>{hosts}</body></html>", content_type="text/html")

    async def echo(request: web.Request) -> web.WebSocketResponse:
        hits["ws"] += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    async def options(request: web.Request) -> web.Response:
        hits["OPTIONS"] += 1
        return web.Response(status=204, headers={"Access-Control-Allow-Origin": request.headers.get("Origin", ""),
                                                 "Access-Control-Allow-Methods": "POST"})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/links", page)
    app.router.add_get("/ws", echo)
    app.router.add_route("OPTIONS", "/items", options)
    return app


@pytest.fixture
async def target() -> AsyncIterator[tuple[Counter[str], int]]:
    hits: Counter[str] = Counter()
    runner, port = await serve_app(target_app(hits, links=MAX_ALIASES + 44))
    yield hits, port
    await runner.cleanup()


def proxy(server: Cobrowse, sid: str, real_url: str) -> str:
    return ProxySpace(sid, DOMAIN, "http", server.port).to_proxy(real_url)


def origin_of(url: str) -> str:
    return url.split("/", 3)[0] + "//" + url.split("/", 3)[2]


async def enter(server: Cobrowse, url: str = "http://ok.test/") -> str:
    """A session on ``url`` whose leader has loaded it (so its pages may send preflights)."""
    created = await server.create_session(url)
    await server.redeem(created["leader_url"])
    loaded = await server.request("GET", proxy(server, created["id"], url))
    assert loaded.status == 200, loaded.text[:300]
    return str(created["id"])


async def every_path(server: Cobrowse, sid: str, real_origin: str) -> dict[str, Reply]:
    """One request for ``real_origin`` on each path: HTTP, WebSocket, preflight, cookie, alias."""
    page = proxy(server, sid, real_origin + "/")
    asking = origin_of(proxy(server, sid, "http://ok.test/"))
    return {
        "http": await server.request("GET", page),
        "websocket": await server.request("GET", proxy(server, sid, real_origin + "/ws"),
                                          headers={**WS_HEADERS, "Origin": asking}),
        "preflight": await server.request("OPTIONS", proxy(server, sid, real_origin + "/items"), cookies={},
                                          headers={"Origin": asking, "Access-Control-Request-Method": "POST"}),
        "cookie": await server.request("POST", proxy(server, sid, real_origin + "/__cb/cookie"),
                                       headers={"Origin": origin_of(page)},
                                       data=json.dumps({"url": real_origin + "/", "cookie": "a=1"})),
        "alias": await server.request("GET", proxy(server, sid, "http://ok.test/__cb/alias")
                                      + "?origin=" + real_origin),
    }


async def allowed_paths_work(server: Cobrowse, sid: str, hits: Counter[str]) -> None:
    """The fence: the same paths for ok.test succeed after the refusals."""
    before = hits["/"]
    assert (await server.request("GET", proxy(server, sid, "http://ok.test/"))).status == 200
    assert hits["/"] == before + 1
    netloc = proxy(server, sid, "http://ok.test/").split("/")[2]
    cookie = "; ".join(f"{k}={v}" for k, v in server.cookies.items())
    async with server.client.ws_connect(f"http://127.0.0.1:{server.port}/ws",
                                        headers={"Host": netloc, "Cookie": cookie,
                                                 "Origin": f"http://{netloc}"}) as ws:
        await ws.send_str("ping")
        assert (await ws.receive(timeout=10)).data == "ping"
    preflight = await server.request("OPTIONS", proxy(server, sid, "http://ok.test/items"), cookies={},
                                     headers={"Origin": f"http://{netloc}", "Access-Control-Request-Method": "POST"})
    assert preflight.status == 204


async def test_deny_list_refuses_every_path_naming_the_rule_and_nothing_is_dialled(
        start_server: StartCobrowse, target: tuple[Counter[str], int], canary: Canary) -> None:
    # Hole 4: --deny-domain was checked on plain HTTP only; WebSockets and preflights dialled
    # the denied host, and the cookie and alias endpoints served it.
    hits, port = target
    server = await start_server(deny_domains=("denied.test",), resolve_overrides={
        "ok.test:80": ("127.0.0.1", port), "denied.test:80": canary.address, "sub.denied.test:80": canary.address})
    sid = await enter(server)
    for host in ("denied.test", "sub.denied.test"):
        replies = await every_path(server, sid, f"http://{host}")
        for path, reply in replies.items():
            assert reply.status == 403, (host, path, reply.status, reply.text[:300])
            assert "deny list" in reply.text and "denied.test" in reply.text, (path, reply.text[:300])
    await allowed_paths_work(server, sid, hits)
    assert canary.connections == 0, canary.report()


async def test_allow_list_refuses_every_other_domain_on_every_path(
        start_server: StartCobrowse, target: tuple[Counter[str], int], canary: Canary) -> None:
    hits, port = target
    server = await start_server(allow_domains=("ok.test",), resolve_overrides={
        "ok.test:80": ("127.0.0.1", port), "elsewhere.test:80": canary.address,
        "www.ok.test:80": ("127.0.0.1", port)})
    sid = await enter(server)
    replies = await every_path(server, sid, "http://elsewhere.test")
    for path, reply in replies.items():
        assert reply.status == 403, (path, reply.status, reply.text[:300])
        assert "allow list" in reply.text and "elsewhere.test" in reply.text, (path, reply.text[:300])
    assert (await server.request("GET", proxy(server, sid, "http://www.ok.test/"))).status == 200  # subdomain
    await allowed_paths_work(server, sid, hits)
    assert canary.connections == 0, canary.report()


@pytest.mark.parametrize("port", [22, 25, 6566, 6669, 10080, 6379])
async def test_bad_ports_are_refused_on_every_path(
        start_server: StartCobrowse, target: tuple[Counter[str], int], canary: Canary, port: int) -> None:
    # Hole 11: the Fetch standard's bad ports (and Redis) were dialled where browsers refuse them.
    hits, target_port = target
    server = await start_server(resolve_overrides={"ok.test:80": ("127.0.0.1", target_port),
                                                   f"ok.test:{port}": canary.address})
    sid = await enter(server)
    replies = await every_path(server, sid, f"http://ok.test:{port}")
    for path, reply in replies.items():
        assert reply.status == 403, (path, reply.status, reply.text[:300])
        assert f"port {port}" in reply.text, (path, reply.text[:300])
        assert "bad port" in reply.text or "refused by this server" in reply.text, (path, reply.text[:300])
    await allowed_paths_work(server, sid, hits)
    assert canary.connections == 0, canary.report()


async def test_a_session_cannot_start_on_a_denied_domain_or_bad_port(
        start_server: StartCobrowse, target: tuple[Counter[str], int], canary: Canary) -> None:
    # The start URL is judged by the same policy at create: the caller learns why at once,
    # instead of an agent link that lands on a 403.
    hits, port = target
    server = await start_server(deny_domains=("denied.test",), resolve_overrides={
        "ok.test:80": ("127.0.0.1", port), "denied.test:80": canary.address})
    for url, words in (("http://denied.test/", "deny list"), ("http://ok.test:22/", "port 22")):
        reply = await server.api("POST", "/api/v1/sessions", {"url": url, "agent": {"id": "a1"}})
        assert reply.status == 403, (url, reply.status, reply.text)
        assert words in json.loads(reply.body)["error"], reply.text
    await enter(server)  # the fence: an allowed start URL creates and loads
    assert hits["/"] == 1
    assert canary.connections == 0, canary.report()


async def test_cookie_writes_are_accepted_only_from_the_origins_own_page(
        start_server: StartCobrowse, target: tuple[Counter[str], int]) -> None:
    # Hole 6: POST /__cb/cookie took writes whatever the Origin (evil.example, another session).
    _, port = target
    server = await start_server(resolve_overrides={"ok.test:80": ("127.0.0.1", port),
                                                   "other.test:80": ("127.0.0.1", port)})
    sid = await enter(server)
    other_sid = await enter(server)
    endpoint = proxy(server, sid, "http://ok.test/__cb/cookie")
    own = origin_of(endpoint)

    async def write(value: str, headers: dict[str, str]) -> Reply:
        return await server.request("POST", endpoint, headers=headers,
                                    data=json.dumps({"url": "http://ok.test/", "cookie": f"{value}=1"}))

    forged = {
        "evil": {"Origin": "http://evil.example"},
        "othersession": {"Origin": origin_of(proxy(server, other_sid, "http://ok.test/"))},
        "otherorigin": {"Origin": origin_of(proxy(server, sid, "http://other.test/"))},
        "noorigin": {},
        "crosssite": {"Origin": own, "Sec-Fetch-Site": "cross-site"},
    }
    for name, headers in forged.items():
        reply = await write(name, headers)
        assert reply.status == 403, (name, reply.status, reply.text)
        assert "cookie write" in reply.text
    accepted = await write("mine", {"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert accepted.status == 200 and accepted.text == "mine=1"
    for site in ("cross-site", "same-site"):  # reads too come only from the origin's own pages
        refused = await server.request("GET", endpoint + "?url=http://ok.test/", headers={"Sec-Fetch-Site": site})
        assert refused.status == 403 and "mine" not in refused.text, (site, refused.status, refused.text)
    seen = await server.request("GET", endpoint + "?url=http://ok.test/", headers={"Sec-Fetch-Site": "same-origin"})
    assert seen.text == "mine=1"


async def test_aliases_are_capped_and_deduplicated_per_session(
        start_server: StartCobrowse, target: tuple[Counter[str], int]) -> None:
    # Hole 7: /__cb/alias minted aliases without bound, and every page carries them all.
    _, port = target
    server = await start_server(resolve_overrides={"ok.test:80": ("127.0.0.1", port)})
    sid = await enter(server)
    store = server.runner.app[STORE]

    async def alias(i: int) -> Reply:
        return await server.request("GET", proxy(server, sid, "http://ok.test/__cb/alias")
                                    + f"?origin=http://{'y' * 60}{i}.test")

    first = await alias(0)
    assert first.status == 200
    for i in range(1, MAX_ALIASES):
        assert (await alias(i)).status == 200
    again = await alias(0)
    assert again.status == 200 and again.text == first.text  # the same origin keeps its one alias
    over = await alias(MAX_ALIASES)
    assert over.status == 409 and str(MAX_ALIASES) in over.text
    session = await store.get(sid)
    assert session is not None and len(session.aliases) == MAX_ALIASES


async def test_aliases_made_by_rewriting_respect_the_same_cap(
        start_server: StartCobrowse, target: tuple[Counter[str], int]) -> None:
    _, port = target
    server = await start_server(resolve_overrides={"ok.test:80": ("127.0.0.1", port)})
    sid = await enter(server)
    page = await server.request("GET", proxy(server, sid, "http://ok.test/links"))
    assert page.status == 200 and page.text.count("--" + sid) >= MAX_ALIASES + 44
    session = await server.runner.app[STORE].get(sid)
    assert session is not None and len(session.aliases) == MAX_ALIASES
    # A page still loads once the session is full, and carries no more aliases than the cap.
    again = await server.request("GET", proxy(server, sid, "http://ok.test/links"))
    assert again.status == 200
    session = await server.runner.app[STORE].get(sid)
    assert session is not None and len(session.aliases) == MAX_ALIASES


# -- the pure policy value -----------------------------------------------------------------------


def test_policy_layers_only_narrow_and_every_refusal_names_its_rule() -> None:
    server = TargetPolicy.for_server(allow=["example.com", "*.cdn.test"], deny=["admin.example.com"])
    assert server.judge("example.com", 443) is None and server.judge("a.cdn.test", 80) is None
    denied = server.judge("admin.example.com", 443)
    assert denied is not None and denied.rule == "deny-domain" and "admin.example.com" in denied.reason
    outside = server.judge("example.org", 443)
    assert outside is not None and outside.rule == "allow-domain" and "server's allow list" in outside.reason
    assert server.judge("notexample.com", 443) is not None  # suffix match is on label boundaries
    session = server.narrowed(DomainLists.build("session", allow=["example.org"], deny=["www.example.com"]))
    assert session.judge("example.org", 443) is not None  # the session cannot reopen what the server closed
    narrowed = session.judge("www.example.com", 443)
    assert narrowed is not None and "session's deny list" in narrowed.reason
    port = TargetPolicy().judge("example.com", 22)
    assert port is not None and port.rule == "bad-port" and "ssh" in port.reason


def test_policy_reads_hosts_and_patterns_in_one_normal_form() -> None:
    policy = TargetPolicy.for_server(deny=["Bücher.Example.", ".EVIL.test"])
    assert policy.judge("xn--bcher-kva.example", 80) is not None
    assert policy.judge("www.evil.test.", 80) is not None
    assert policy.judge("EVIL.TEST", 80) is not None


def test_bad_port_table_is_the_fetch_list() -> None:
    for port in (0, 1, 7, 9, 22, 23, 25, 53, 110, 143, 587, 993, 2049, 4190, 5060, 6000, 6566,
                 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080):
        assert port in BAD_PORTS, port
    for port in (80, 443, 8080, 8443, 3000, 5000, 8000):
        assert port not in BAD_PORTS and port not in SERVER_BAD_PORTS
        assert TargetPolicy().judge("example.com", port) is None


async def test_policy_is_a_required_argument_of_every_upstream_call() -> None:
    # No path can forget the policy: ``open`` and ``ws_connect`` do not run without one.
    from proxy.upstream import UpstreamClient, UpstreamSettings

    async with UpstreamClient(UpstreamSettings()) as client:
        with pytest.raises(TypeError):
            await client.open("GET", "http://example.test/", [])  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await client.ws_connect("ws://example.test/", [])  # type: ignore[call-arg]


def test_session_keeps_reached_origins_and_capped_aliases_through_its_json_form() -> None:
    session = Session(id="s1", target_url="http://ok.test/", created_at=0.0, expires_at=1.0, leader_id="p1")
    origins = {f"a-{i}": Origin("http", f"{'z' * 60}{i}.test", 80) for i in range(MAX_ALIASES + 3)}
    refused = session.add_aliases(origins)
    assert len(refused) == 3 and len(session.aliases) == MAX_ALIASES
    assert session.add_aliases({"a-0": origins["a-0"]}) == []  # one already held is no new alias
    assert session.note_reached("http://ok.test") and session.note_reached("http://ok.test")
    copy = Session.from_json(session.to_json())
    assert copy.reached_origins == {"http://ok.test"} and copy.aliases == session.aliases
    for i in range(MAX_REACHED_ORIGINS):
        session.note_reached(f"http://h{i}.test")
    assert not session.note_reached("http://one-too-many.test")
    assert len(session.reached_origins) == MAX_REACHED_ORIGINS
