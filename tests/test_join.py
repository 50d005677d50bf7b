"""The follower's join page on the control plane: form, admission, refusals, landing page."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup
from world.harness import StartCobrowse, cookies_from, view_in
from world.sync_client import TARGET, connect, hello, join, post_join, send, start_session

from proxy.keys import SERVICE


def invitation_of(created: dict[str, object]) -> str:
    return parse_qs(urlsplit(str(created["follower_url"])).query)["invitation"][0]


async def test_join_page_shows_the_name_form_and_the_privacy_notice(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    reply = await server.request("GET", created["follower_url"], cookies={})
    assert reply.status == 200 and reply.header("Cache-Control") == "no-store"
    page = BeautifulSoup(reply.text, "html.parser")
    form = page.find("form")
    assert form is not None and form["method"] == "post" and form["action"] == f"/join/{created['id']}"
    assert form.find("input", attrs={"name": "name"}) is not None
    assert form.find("input", attrs={"name": "invitation"})["value"] == invitation_of(created)
    notice = page.find(id="notice").get_text(" ", strip=True)
    assert "sees the pages you browse together" in notice and "what you type" in notice
    assert "Ann" in page.find("h1").get_text()


async def test_post_with_a_good_invitation_sets_the_follower_cookie_and_redirects_into_the_session(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    reply = await post_join(server, created, "Vic")
    assert reply.status == 303
    landing = reply.header("Location") or ""
    # The follower lands in a view of its own (docs/participant-hosts.md).
    assert view_in(landing)
    assert landing == server.proxy_url(created["id"], "example.com", "/start", view=view_in(landing))
    cookie = next(v for v in reply.headers.getall("Set-Cookie") if v.startswith(f"cbp_{created['id']}="))
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert "Domain=cobrowse.localhost" in attributes["domain"] and "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    # The cookie admits to the session's hosts: the runtime asset is served, not a 403.
    cookies = cookies_from(reply.headers)
    asset = await server.request("GET", server.proxy_url(created["id"], "example.com", "/__cb/runtime.js"),
                                 cookies=cookies)
    assert asset.status == 200
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert [(p["role"], p["name"]) for p in session["participants"]] == [("leader", "Ann"), ("follower", "Vic")]


async def test_follower_lands_on_the_drivers_current_page_not_the_start_page(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, leader = await start_session(server)
    ws = await connect(server, created, leader)
    await hello(ws, leader, "page-l")
    await send(ws, leader, "nav", url="http://example.com/later/page?x=1", kind="load")
    reply = await post_join(server, created)
    landing = reply.header("Location") or ""
    assert landing == server.proxy_url(created["id"], "example.com", "/later/page?x=1", view=view_in(landing))
    assert TARGET not in (reply.header("Location") or "")


async def test_bad_or_revoked_invitation_is_refused_with_403(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    wrong = await server.request("GET", f"{server.control}/join/{created['id']}?invitation=guess", cookies={})
    assert wrong.status == 403
    assert (await post_join(server, created, invitation="guess")).status == 403
    fresh = await server.runner.app[SERVICE].revoke_invitation(created["id"], time.time())
    assert (await post_join(server, created)).status == 403  # the old link no longer opens the session
    assert (await post_join(server, created, invitation=fresh)).status == 303


async def test_join_past_the_follower_cap_is_refused_with_409(start_server: StartCobrowse) -> None:
    server = await start_server(max_followers=2)
    created, _ = await start_session(server)
    for name in ("One", "Two"):
        await join(server, created, name)
    full = await post_join(server, created, "Three")
    assert full.status == 409 and "full" in full.text
    page = await server.request("GET", created["follower_url"], cookies={})
    assert page.status == 409


async def test_join_after_the_session_ended_answers_410(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
    assert (await server.request("GET", created["follower_url"], cookies={})).status == 410
    assert (await post_join(server, created)).status == 410


async def test_browser_already_following_is_sent_on_without_a_second_participant(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    created, leader = await start_session(server)
    follower = await join(server, created)
    again = await post_join(server, created, cookies=follower.cookies)
    assert again.status == 303 and not again.headers.getall("Set-Cookie", [])
    as_leader = await post_join(server, created, cookies=leader.cookies)
    assert as_leader.status == 409
    session = json.loads((await server.api("GET", f"/api/v1/sessions/{created['id']}")).body)
    assert len(session["participants"]) == 2


async def test_an_expired_session_says_expired_not_just_ended(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    store = server.runner.app[SERVICE].store
    await store.update(created["id"], lambda s: setattr(s, "expires_at", time.time() - 1))
    page = await server.request("GET", created["follower_url"], cookies={})
    assert page.status == 410 and "This session is over" in page.text and "expired" in page.text


async def test_the_consent_notice_names_the_sessions_masks_and_who_controls(start_server: StartCobrowse) -> None:
    server = await start_server()
    body = {"url": "http://example.com/", "agent": {"id": "a1", "name": "Ann"},
            "options": {"view_only": True, "mask_selectors": ["#iban", ".notes"]}}
    created = json.loads((await server.api("POST", "/api/v1/sessions", body)).body)
    page = BeautifulSoup((await server.request("GET", created["follower_url"], cookies={})).text, "html.parser")
    notice = page.find(id="notice").get_text(" ", strip=True)
    assert "passwords, payment card numbers, and 2 more kinds of field this session masks" in notice
    assert "You watch only: Ann keeps control" in notice
    plain, _ = await start_session(server)
    notice = BeautifulSoup((await server.request("GET", plain["follower_url"], cookies={})).text,
                           "html.parser").find(id="notice").get_text(" ", strip=True)
    assert "may hand you control" in notice and "more kind" not in notice


async def test_the_sessions_own_follower_cap_is_kept(start_server: StartCobrowse) -> None:
    server = await start_server()
    body = {"url": "http://example.com/", "agent": {"id": "a1", "name": "Ann"}, "options": {"max_followers": 1}}
    created = json.loads((await server.api("POST", "/api/v1/sessions", body)).body)
    assert (await post_join(server, created, "One")).status == 303
    full = await post_join(server, created, "Two")
    assert full.status == 409 and "This session is full" in full.text
