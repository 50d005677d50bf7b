"""CORS preflights: admitted without a credential only for pages of the same session, sent to
the target without cookies, and answered once for all participants while the target allows."""

from __future__ import annotations

from collections import Counter

from aiohttp import web
from world.harness import Cobrowse, StartCobrowse
from world.targets import serve_app

from sessions.preflight import PreflightCache, max_age, preflight_key
from sessions.shared import MemoryShared


def _api(hits: Counter[str], cookies_seen: list[str]) -> web.Application:
    async def options(request: web.Request) -> web.Response:
        hits["OPTIONS"] += 1
        cookies_seen.append(request.headers.get("Cookie", ""))
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": "http://page.test",
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "600",
        })

    app = web.Application()
    app.router.add_route("OPTIONS", "/items", options)
    return app


async def test_preflight_from_a_page_of_the_session_is_forwarded_once_without_cookies(
        start_server: StartCobrowse) -> None:
    hits: Counter[str] = Counter()
    cookies_seen: list[str] = []
    runner, port = await serve_app(_api(hits, cookies_seen))
    try:
        server = await start_server(resolve_overrides={"api.test:80": ("127.0.0.1", port),
                                                       "page.test:80": ("127.0.0.1", port)})
        sid = await reach_page(server)
        page_origin = server.proxy_url(sid, "page.test", "").rstrip("/")
        headers = {"Origin": page_origin, "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "Content-Type"}
        for _ in range(3):  # the leader's and two followers' browsers: none sends a cookie
            reply = await server.request("OPTIONS", server.proxy_url(sid, "api.test", "/items"),
                                         headers=headers, cookies={})
            assert reply.status == 204
            assert reply.header("Access-Control-Allow-Origin") == page_origin
            assert reply.header("Access-Control-Allow-Credentials") == "true"
        assert hits["OPTIONS"] == 1
        assert cookies_seen == [""]
    finally:
        await runner.cleanup()


async def test_preflight_from_a_foreign_origin_or_another_session_is_refused(start_server: StartCobrowse) -> None:
    hits: Counter[str] = Counter()
    runner, port = await serve_app(_api(hits, []))
    try:
        server = await start_server(resolve_overrides={"api.test:80": ("127.0.0.1", port)})
        one = await server.create_session("http://page.test/")
        two = await server.create_session("http://page.test/")
        for origin in ["https://evil.example", server.proxy_url(two["id"], "page.test", "").rstrip("/"), "null"]:
            reply = await server.request(
                "OPTIONS", server.proxy_url(one["id"], "api.test", "/items"), cookies={},
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
            assert reply.status == 403, origin
        plain = await server.request("OPTIONS", server.proxy_url(one["id"], "api.test", "/items"), cookies={})
        assert plain.status == 403  # not a preflight: the credential rule applies
        assert hits["OPTIONS"] == 0
    finally:
        await runner.cleanup()


async def reach_page(server: Cobrowse) -> str:
    """A session on http://page.test/ whose leader has loaded that page: its id."""
    created = await server.create_session("http://page.test/")
    await server.redeem(created["leader_url"])
    await server.request("GET", server.proxy_url(created["id"], "page.test", "/"))
    return str(created["id"])


async def test_preflight_for_a_page_no_participant_has_opened_is_refused_until_one_has(
        start_server: StartCobrowse) -> None:
    # Hole 4: knowing a session id used to be enough to make the proxy send preflights for any
    # origin label of the session. Now the asking page's origin must have been reached with a
    # credential first (fenced by the same preflight succeeding once it has).
    hits: Counter[str] = Counter()
    runner, port = await serve_app(_api(hits, []))
    try:
        server = await start_server(resolve_overrides={"api.test:80": ("127.0.0.1", port),
                                                       "page.test:80": ("127.0.0.1", port)})
        created = await server.create_session("http://page.test/")
        sid = created["id"]
        preflight = {"Origin": server.proxy_url(sid, "page.test", "").rstrip("/"),
                     "Access-Control-Request-Method": "POST"}
        url = server.proxy_url(sid, "api.test", "/items")
        refused = await server.request("OPTIONS", url, headers=preflight, cookies={})
        assert refused.status == 403 and "opened" in refused.text
        assert hits["OPTIONS"] == 0
        await server.redeem(created["leader_url"])
        await server.request("GET", server.proxy_url(sid, "page.test", "/"))
        answered = await server.request("OPTIONS", url, headers=preflight, cookies={})
        assert answered.status == 204
        assert hits["OPTIONS"] == 1
    finally:
        await runner.cleanup()


async def test_preflight_answers_expire_with_max_age_and_stay_bounded() -> None:
    cache = PreflightCache(MemoryShared(clock=lambda: 100.0), "resp:s:preflight", max_entries=3)
    key = preflight_key("https://api.test/x", "https://page.test", "post", "X-B, content-type")
    assert key == preflight_key("https://api.test/x", "https://page.test", "POST", "Content-Type,x-b")
    await cache.put(key, 204, "No Content", (("Access-Control-Max-Age", "10"),), now=100.0)
    assert await cache.get(key, 109.0) is not None and await cache.get(key, 110.5) is None
    assert max_age(()) == 5.0 and max_age((("access-control-max-age", "99999"),)) == 7200.0
    assert max_age((("Access-Control-Max-Age", "soon"),)) == 5.0
    for i in range(10):
        await cache.put(preflight_key(f"https://api.test/{i}", "o", "GET", ""), 204, "", (), now=100.0)
    assert await cache.count(100.0) == 3
