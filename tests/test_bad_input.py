"""Bad input through the whole running server: each answered with a clear error, memory bounded.

Two servers: a guarded one (``allow_private=False``, no resolver overrides: the SSRF guard is
all that stands between a session and the machine's own addresses, watched by a canary
listener) and a tolerant one that reaches the hostile ``bad.test`` upstreams through resolver
overrides, with a 3 s total deadline. The server runs in this process, so the process's peak
RSS (reset before each hostile exchange) bounds what the proxy held.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from world import HitLog, World, start_world
from world.bad import BIG_PAGE_BYTES, SET_COOKIE_COUNT, TcpFixture, make_app, start_canary, start_drip_server
from world.canary import Canary
from world.harness import Cobrowse, StartCobrowse, view_in

from rewriter.space import ProxySpace
from sessions.credentials import Credential, Signer

SECRET = b"bad-input-test-secret-key-0123456789"
MiB = 1 << 20
# What the proxy may hold at once for one hostile response (its rewrite cap is 32 MiB).
MEMORY_BOUND = 96 * MiB


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    listener = await start_canary()
    try:
        yield listener
    finally:
        await listener.close()


@pytest.fixture
async def guarded(start_server: StartCobrowse) -> Cobrowse:
    return await start_server(allow_private=False, secret_key=SECRET)


@pytest.fixture
async def bad_world() -> AsyncIterator[tuple[World, TcpFixture]]:
    world = await start_world({"bad.test": make_app}, HitLog())
    drip = await start_drip_server()
    try:
        yield world, drip
    finally:
        await drip.close()
        await world.close()


@pytest.fixture
async def tolerant(bad_world: tuple[World, TcpFixture], start_server: StartCobrowse) -> Cobrowse:
    world, drip = bad_world
    overrides = {**world.resolve_overrides(), "drip.test:80": ("127.0.0.1", drip.port)}
    return await start_server(resolve_overrides=overrides, allow_private=True, total_deadline=3,
                              secret_key=SECRET)


async def enter(server: Cobrowse, url: str) -> tuple[str, str]:
    """Create a session on ``url`` and redeem its leader link: (session id, proxied start URL)."""
    session = await server.create_session(url)
    reply = await server.redeem(session["leader_url"])
    assert reply.status in (302, 303), f"entering answered {reply.status}: {reply.text[:300]}"
    location = reply.header("Location")
    assert location
    return str(session["id"]), location


def space(server: Cobrowse, session_id: str, landed: str = "") -> ProxySpace:
    """The session's space in the view of the participant who ``landed`` on that URL."""
    return ProxySpace(session_id, "cobrowse.localhost", "http", server.port, view=view_in(landed))


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


# -- SSRF guard ----------------------------------------------------------------------------

LOOPBACK_SPELLINGS = ("127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "0177.0.0.1", "localhost")


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_session_target_on_loopback_spelling_is_refused_403_and_canary_sees_nothing(
    guarded: Cobrowse, canary: Canary, host: str
) -> None:
    _, start = await enter(guarded, f"http://{host}:{canary.port}/")
    reply = await guarded.request("GET", start)
    assert reply.status == 403
    assert "not allowed" in reply.text
    assert canary.connections == 0


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_proxied_request_to_loopback_spelling_inside_a_session_is_refused_403(
    guarded: Cobrowse, canary: Canary, host: str
) -> None:
    session_id, _ = await enter(guarded, "http://example.invalid/")
    url = space(guarded, session_id).to_proxy(f"http://{host}:{canary.port}/internal?x=1")
    assert url.startswith("http://") and f"--{session_id}.cobrowse.localhost:" in url
    for method in ("GET", "POST"):
        reply = await guarded.request(method, url, data=b"x=1" if method == "POST" else None)
        assert reply.status == 403, (method, reply.status, reply.text[:300])
        assert "not allowed" in reply.text
    assert canary.connections == 0


async def test_cloud_metadata_address_is_refused_403_before_any_connection(guarded: Cobrowse) -> None:
    _, start = await enter(guarded, "http://169.254.169.254/latest/meta-data/")
    reply = await guarded.request("GET", start, deadline=10)
    assert reply.status == 403
    assert "169.254.169.254" in reply.text or "metadata" in reply.text.lower()


async def test_metadata_address_stays_refused_even_when_private_targets_are_allowed(
    start_server: StartCobrowse,
) -> None:
    server = await start_server(allow_private=True)
    _, start = await enter(server, "http://169.254.169.254/latest/meta-data/")
    reply = await server.request("GET", start, deadline=10)
    assert reply.status == 403


# -- credentials ---------------------------------------------------------------------------


async def test_request_without_credential_is_403_and_never_reaches_target(
    tolerant: Cobrowse, bad_world: tuple[World, TcpFixture]
) -> None:
    world, _ = bad_world
    _, start = await enter(tolerant, "http://bad.test/cookies/echo")
    assert (await tolerant.request("GET", start)).status == 200  # the credential works...
    hits = len(world.log)
    reply = await tolerant.request("GET", start, cookies={})  # ...and without it nothing does
    assert reply.status == 403
    assert "participant" in reply.text.lower() or "pass" in reply.text.lower()
    assert len(world.log) == hits


def _credential_parts(server: Cobrowse, session_id: str) -> tuple[str, str, list[str]]:
    name = f"cbp_{session_id}"
    value = server.cookies[name]
    return name, value, value.split(".")


async def test_forged_tampered_and_expired_participant_cookies_are_403(
    tolerant: Cobrowse, bad_world: tuple[World, TcpFixture]
) -> None:
    world, _ = bad_world
    session_id, start = await enter(tolerant, "http://bad.test/cookies/echo")
    name, value, parts = _credential_parts(tolerant, session_id)
    _, participant, role, expires, _ = parts[0], parts[2], parts[3], parts[4], parts[5]
    far_future = str(int(time.time()) + 10 * 365 * 86400)
    forged = {
        "garbage": "not-a-credential",
        "unsigned": f"v1.{session_id}.{participant}.{role}.{far_future}.",
        "wrong signature": f"v1.{session_id}.{participant}.{role}.{expires}.{'A' * 43}",
        "extended expiry": ".".join([*parts[:4], far_future, parts[5]]),
        "signed with another key": Signer(b"x" * 32).sign(
            Credential(session_id, participant, role, int(far_future))
        ),
        "expired": Signer(SECRET).sign(Credential(session_id, participant, role, int(time.time()) - 5)),
        "unknown participant": Signer(SECRET).sign(Credential(session_id, "p-nobody", role, int(far_future))),
    }
    hits = len(world.log)
    for what, token in forged.items():
        reply = await tolerant.request("GET", start, cookies={name: token})
        assert reply.status == 403, f"{what} credential answered {reply.status}"
    assert len(world.log) == hits
    assert (await tolerant.request("GET", start, cookies={name: value})).status == 200


async def test_credential_of_one_session_is_refused_on_another_sessions_hosts(tolerant: Cobrowse) -> None:
    first_id, _ = await enter(tolerant, "http://bad.test/cookies/echo")
    second_id, second_start = await enter(tolerant, "http://bad.test/cookies/echo")
    first_value = tolerant.cookies[f"cbp_{first_id}"]
    reply = await tolerant.request("GET", second_start, cookies={f"cbp_{second_id}": first_value})
    assert reply.status == 403


async def test_leader_ticket_used_twice_is_refused_with_a_clear_message(tolerant: Cobrowse) -> None:
    session = await tolerant.create_session("http://bad.test/cookies/echo")
    first = await tolerant.redeem(session["leader_url"])
    assert first.status in (302, 303)
    second = await tolerant.request("GET", session["leader_url"], cookies={})
    assert second.status in (403, 410)
    assert "already been used" in second.text
    assert second.header("Set-Cookie") is None


async def test_ended_session_hosts_answer_410(tolerant: Cobrowse) -> None:
    session_id, start = await enter(tolerant, "http://bad.test/cookies/echo")
    assert (await tolerant.api("DELETE", f"/api/v1/sessions/{session_id}")).status == 200
    reply = await tolerant.request("GET", start)
    assert reply.status == 410
    assert "ended" in reply.text


async def test_api_without_key_or_with_wrong_key_is_401(tolerant: Cobrowse) -> None:
    body = {"url": "http://bad.test/", "agent": {"id": "a1", "name": "Ann"}}
    assert (await tolerant.api("POST", "/api/v1/sessions", body, key=None)).status == 401
    assert (await tolerant.api("POST", "/api/v1/sessions", body, key="wrong")).status == 401


# -- hostile upstreams ---------------------------------------------------------------------


async def test_gzip_bomb_html_is_refused_502_with_bounded_memory(tolerant: Cobrowse) -> None:
    _, start = await enter(tolerant, "http://bad.test/bomb.html")
    reset_peak_rss()
    before = peak_rss()
    reply = await tolerant.request("GET", start, deadline=120)
    grown = peak_rss() - before
    assert reply.status == 502
    assert "too large" in reply.text.lower() or "safely" in reply.text.lower()
    assert grown < MEMORY_BOUND, f"peak RSS grew by {grown // MiB} MiB"


async def test_gzip_bomb_download_is_never_inflated_by_the_proxy(tolerant: Cobrowse) -> None:
    _, start = await enter(tolerant, "http://bad.test/bomb.bin")
    reset_peak_rss()
    before = peak_rss()
    reply = await tolerant.request("GET", start, max_body=2 * MiB, deadline=120)
    grown = peak_rss() - before
    if reply.status == 200:
        # Streamed as sent: still gzip on the wire, so the proxy inflated nothing.
        assert reply.header("Content-Encoding") == "gzip"
        assert reply.body[:2] == b"\x1f\x8b"
    else:
        assert reply.status == 502
    assert grown < MEMORY_BOUND, f"peak RSS grew by {grown // MiB} MiB"


@pytest.mark.parametrize("path", ["/big.html", "/big.html?chunked"])
async def test_100_mb_html_page_is_refused_or_streamed_never_buffered_whole(tolerant: Cobrowse, path: str) -> None:
    _, start = await enter(tolerant, "http://bad.test" + path)
    reset_peak_rss()
    before = peak_rss()
    reply = await tolerant.request("GET", start, max_body=MiB, deadline=120)
    grown = peak_rss() - before
    assert reply.status in (200, 413, 502), reply.status
    if reply.status != 200:
        assert "too large" in reply.text.lower()
    assert grown < min(MEMORY_BOUND, BIG_PAGE_BYTES), f"peak RSS grew by {grown // MiB} MiB"


async def test_upstream_dripping_its_body_gets_504_at_the_deadline(tolerant: Cobrowse) -> None:
    _, start = await enter(tolerant, "http://bad.test/drip.html")
    reply = await tolerant.request("GET", start, deadline=30)
    assert reply.status == 504
    assert "too long" in reply.text.lower() or "in time" in reply.text.lower()


async def test_upstream_dripping_its_status_line_gets_504_at_the_deadline(
    tolerant: Cobrowse, bad_world: tuple[World, TcpFixture]
) -> None:
    _, drip = bad_world
    _, start = await enter(tolerant, "http://drip.test/")
    reply = await tolerant.request("GET", start, deadline=30)
    assert reply.status == 504
    assert drip.connections == 1


async def test_redirect_loop_is_passed_to_the_browser_hop_by_hop(
    tolerant: Cobrowse, bad_world: tuple[World, TcpFixture]
) -> None:
    world, _ = bad_world
    session_id, start = await enter(tolerant, "http://bad.test/loop")
    expected = space(tolerant, session_id, start).to_proxy("http://bad.test/loop")
    url = start
    for hop in range(1, 4):
        reply = await tolerant.request("GET", url)
        assert reply.status == 302
        assert reply.header("Location") == expected
        assert [h.path for h in world.log] == ["/loop"] * hop  # one upstream request per hop
        url = expected


async def test_javascript_location_redirect_is_refused_502(tolerant: Cobrowse) -> None:
    _, start = await enter(tolerant, "http://bad.test/js-redirect")
    reply = await tolerant.request("GET", start)
    assert reply.status == 502
    assert "redirect" in reply.text.lower()
    assert reply.header("Location") is None


async def test_500_set_cookie_headers_are_answered_fine_and_the_jar_stays_bounded(tolerant: Cobrowse) -> None:
    session_id, start = await enter(tolerant, "http://bad.test/cookies/set")
    # Loaded as a browser loads a typed URL: an unknown initiator would be cross-site for SameSite.
    typed = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    reply = await tolerant.request("GET", start, headers=typed)
    assert reply.status == 200
    assert "ok" in reply.text
    assert reply.headers.getall("Set-Cookie", []) == []  # target cookies never reach the browser
    echo = await tolerant.request("GET", space(tolerant, session_id).to_proxy("http://bad.test/cookies/echo"),
                                  headers=typed)
    assert echo.status == 200
    seen = json.loads(echo.body)
    assert 0 < seen["count"] < SET_COOKIE_COUNT
    assert seen["bytes"] < 64 * 1024


# -- the same refusals as a browser meets them ---------------------------------------------


async def test_leader_link_opened_in_a_second_browser_shows_a_clear_403_page(
    browser: Browser, tolerant: Cobrowse
) -> None:
    session = await tolerant.create_session("http://bad.test/cookies/echo")
    first = await browser.new_context()
    page = await first.new_page()
    response = await page.goto(session["leader_url"])
    assert response is not None and response.status == 200
    second = await browser.new_context()
    other = await second.new_page()
    response = await other.goto(session["leader_url"])
    assert response is not None and response.status == 403
    assert "already been used" in (await other.text_content("body") or "")
    # Without the pass, the session's hosts refuse this browser too.
    response = await other.goto(page.url)
    assert response is not None and response.status == 403


async def test_redirect_loop_in_chromium_ends_as_too_many_redirects_each_hop_through_proxy(
    browser: Browser, tolerant: Cobrowse, bad_world: tuple[World, TcpFixture]
) -> None:
    world, _ = bad_world
    session = await tolerant.create_session("http://bad.test/loop")
    page = await browser.new_page()
    with pytest.raises(PlaywrightError, match="ERR_TOO_MANY_REDIRECTS"):
        await page.goto(session["leader_url"])
    hops = [h.path for h in world.log]
    assert set(hops) == {"/loop"} and len(hops) > 5  # Chromium followed, hop by hop
