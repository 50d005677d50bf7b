"""The REST API and entry links, through a running server (no browser needed)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from world.harness import Cobrowse, StartCobrowse, view_in
from world.targets import serve_app


async def _target() -> tuple[web.AppRunner, int]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>t</title><p>hello</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return await serve_app(app)


async def test_create_session_answers_201_with_links_and_times(start_server: StartCobrowse) -> None:
    server: Cobrowse = await start_server()
    reply = await server.api("POST", "/api/v1/sessions", {"url": "https://example.com/a?b=1",
                                                           "agent": {"id": "a1", "name": "Ann"}})
    assert reply.status == 201
    body: dict[str, Any] = json.loads(reply.body)
    assert set(body) >= {"id", "leader_url", "follower_url", "created_at", "expires_at"}
    assert body["leader_url"].startswith(f"{server.control}/enter/{body['id']}?ticket=")
    assert body["follower_url"].startswith(f"{server.control}/join/{body['id']}?invitation=")
    assert body["created_at"].endswith("Z") and body["expires_at"] > body["created_at"]
    assert reply.header("Location") == f"/api/v1/sessions/{body['id']}"

    got = await server.api("GET", f"/api/v1/sessions/{body['id']}")
    assert got.status == 200
    described = json.loads(got.body)
    assert described["status"] == "live" and described["participants"][0]["name"] == "Ann"
    assert "ticket" not in got.text and "invitation" not in got.text


async def test_api_refuses_missing_or_wrong_key_and_bad_bodies(start_server: StartCobrowse) -> None:
    server = await start_server()
    good = {"url": "https://example.com/", "agent": {"id": "a", "name": "A"}}
    assert (await server.api("POST", "/api/v1/sessions", good, key=None)).status == 401
    assert (await server.api("POST", "/api/v1/sessions", good, key="wrong")).status == 401
    for bad, words in [({"agent": {}}, "url"), ({"url": "ftp://x.org/"}, "http"),
                       ({"url": "not a url"}, "absolute"), ({"url": "https://x.org/", "agent": "Ann"}, "agent"),
                       ([1, 2], "object")]:
        reply = await server.api("POST", "/api/v1/sessions", bad)
        assert reply.status == 400, (bad, reply.text)
        assert words in json.loads(reply.body)["error"]
    reply = await server.request("POST", f"{server.control}/api/v1/sessions", data=b"{not json",
                                 headers={"Authorization": "Bearer test-key"}, cookies={})
    assert reply.status == 400
    assert (await server.api("GET", "/api/v1/sessions/zzzzzzzzzz")).status == 404


async def test_leader_link_enters_the_proxied_page_and_delete_makes_hosts_answer_410(
        start_server: StartCobrowse) -> None:
    runner, port = await _target()
    try:
        server = await start_server(resolve_overrides={"app.test:80": ("127.0.0.1", port)})
        created = await server.create_session("http://app.test/start")
        entered = await server.redeem(created["leader_url"])
        assert entered.status == 302
        landing = entered.header("Location") or ""
        assert view_in(landing) and landing == server.proxy_url(created["id"], "app.test", "/start",
                                                                view=view_in(landing))
        cookie = entered.header("Set-Cookie") or ""
        assert "HttpOnly" in cookie and "Domain=cobrowse.localhost" in cookie and "SameSite=Lax" in cookie

        page = await server.request("GET", server.proxy_url(created["id"], "app.test", "/start"))
        assert page.status == 200 and "<p>hello</p>" in page.text and "/__cb/runtime.js" in page.text

        fresh = await server.api("POST", f"/api/v1/sessions/{created['id']}/leader-link")
        assert fresh.status == 201 and "/enter/" in json.loads(fresh.body)["leader_url"]

        ended = await server.api("DELETE", f"/api/v1/sessions/{created['id']}")
        assert ended.status == 200 and json.loads(ended.body)["status"] == "ended"
        gone = await server.request("GET", server.proxy_url(created["id"], "app.test", "/start"))
        assert gone.status == 410 and "ended" in gone.text
        again = await server.api("POST", f"/api/v1/sessions/{created['id']}/leader-link")
        assert again.status == 410
    finally:
        await runner.cleanup()


async def test_console_page_is_served_on_the_control_plane(start_server: StartCobrowse) -> None:
    server = await start_server()
    reply = await server.request("GET", f"{server.control}/", cookies={})
    assert reply.status == 200 and "Start session" in reply.text and "/api/v1/sessions" in reply.text


async def test_unknown_hosts_and_sessions_are_404_not_proxied(start_server: StartCobrowse) -> None:
    server = await start_server()
    reply = await server.request("GET", f"http://h-example-com--zzzzzzzzzz.cobrowse.localhost:{server.port}/")
    assert reply.status == 404 and "does not exist" in reply.text


async def test_new_follower_link_revokes_the_old_invitation(start_server: StartCobrowse) -> None:
    server = await start_server()
    created = await server.create_session("https://example.com/")
    old = created["follower_url"]
    assert (await server.request("GET", old, cookies={})).status == 200
    fresh = await server.api("POST", f"/api/v1/sessions/{created['id']}/follower-link")
    assert fresh.status == 201
    new = json.loads(fresh.body)["follower_url"]
    assert new != old
    assert (await server.request("GET", old, cookies={})).status == 403
    assert (await server.request("GET", new, cookies={})).status == 200


async def test_leader_lands_on_a_host_too_long_for_a_label_through_its_stored_alias(
        start_server: StartCobrowse) -> None:
    runner, port = await _target()
    long_host = "a-very-long-host-name-" + "x" * 40 + ".example.test"
    try:
        server = await start_server(resolve_overrides={f"{long_host}:80": ("127.0.0.1", port)})
        created = await server.create_session(f"http://{long_host}/start")
        entered = await server.redeem(created["leader_url"])
        location = entered.header("Location") or ""
        assert location.startswith("http://a-")
        assert f"--{created['id']}-{view_in(location)}.cobrowse.localhost" in location and view_in(location)
        page = await server.request("GET", location)
        assert page.status == 200 and "<p>hello</p>" in page.text
    finally:
        await runner.cleanup()


async def test_session_options_are_kept_described_and_refused_with_the_field_named(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    options = {"view_only": True, "consent": False, "mask_selectors": ["#ssn"], "hide_selectors": [".secret"],
               "allow_domains": ["example.com"], "deny_domains": ["admin.example.com"]}
    reply = await server.api("POST", "/api/v1/sessions", {"url": "https://example.com/", "options": options})
    assert reply.status == 201, reply.text
    described = json.loads((await server.api("GET", f"/api/v1/sessions/{json.loads(reply.body)['id']}")).body)
    assert {name: described["options"][name] for name in options} == options
    default = json.loads((await server.api("POST", "/api/v1/sessions", {"url": "https://example.com/"})).body)
    assert default["options"]["consent"] is True and default["options"]["view_only"] is False
    for bad, words in [({"options": {"viewonly": True}}, "unknown field(s) 'viewonly'"),
                       ({"options": {"mask_selectors": ["a{b}"]}}, "options.mask_selectors"),
                       ({"options": {"allow_domains": ["https://x.org/"]}}, "options.allow_domains")]:
        refused = await server.api("POST", "/api/v1/sessions", {"url": "https://example.com/", **bad})
        assert refused.status == 400 and words in json.loads(refused.body)["error"], refused.text
    # A start URL outside the session's own lists is refused at once, naming the session's rule.
    outside = await server.api("POST", "/api/v1/sessions", {"url": "https://admin.example.com/",
                                                            "options": {"deny_domains": ["admin.example.com"]}})
    assert outside.status == 403 and "session's deny list" in json.loads(outside.body)["error"]


async def test_a_sessions_deny_list_refuses_its_pages_with_a_page_naming_the_rule(
        start_server: StartCobrowse) -> None:
    runner, port = await _target()
    try:
        server = await start_server(resolve_overrides={"app.test:80": ("127.0.0.1", port),
                                                      "private.app.test:80": ("127.0.0.1", port)})
        reply = await server.api("POST", "/api/v1/sessions", {"url": "http://app.test/",
                                                               "options": {"deny_domains": ["private.app.test"]}})
        created = json.loads(reply.body)
        await server.redeem(created["leader_url"])
        allowed = await server.request("GET", server.proxy_url(created["id"], "app.test", "/"))
        assert allowed.status == 200 and "<p>hello</p>" in allowed.text
        denied = await server.request("GET", server.proxy_url(created["id"], "private.app.test", "/"))
        assert denied.status == 403 and "session" in denied.text and "private.app.test" in denied.text
    finally:
        await runner.cleanup()
