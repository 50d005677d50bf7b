"""The fixture world in real Chromium: first directly (the world itself works), then through cobrowse.

Through the proxy Chromium knows no fixture address (no resolver rules), so a feature can only
work if the proxy carried it. Each test also proves the request boundary: every URL Chromium asked
for is under the proxy domain (or local), and the fixture servers saw exactly the expected paths,
each with the real Host header.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError
from world import BROWSER_EXTRAS, JS_URLS_PATHS, SITE_A_INDEX_PATHS, World
from world.browser import RequestRecorder, wait_checks
from world.harness import DOMAIN, Cobrowse, view_in
from world.site_a import JS_URL_CHECKS, PASSWORD, SITE_A_CHECKS, USER
from world.site_b import SITE_B_CHECKS

ALL_OK_A = dict.fromkeys(SITE_A_CHECKS, "ok")
ALL_OK_B = dict.fromkeys(SITE_B_CHECKS, "ok")
ALL_OK_JS = dict.fromkeys(JS_URL_CHECKS, "ok")


def assert_paths_exact(world: World, expected: dict[str, frozenset[str]]) -> None:
    for host in world.ports:
        seen = world.log.paths(host) - BROWSER_EXTRAS
        assert seen == expected.get(host, frozenset()), f"{host} saw {sorted(seen)}"


# -- the world itself, direct --------------------------------------------------------------


async def test_world_site_a_features_all_pass_in_chromium_directly(direct_browser: Browser, world: World) -> None:
    page = await direct_browser.new_page()
    await page.goto("http://site-a.test/")
    assert await wait_checks(page, SITE_A_CHECKS) == ALL_OK_A
    assert_paths_exact(world, SITE_A_INDEX_PATHS)


async def test_world_login_link_refresh_and_samesite_work_directly(direct_browser: Browser, world: World) -> None:
    page = await direct_browser.new_page()
    await page.goto("http://site-a.test/login")
    await login(page)
    assert await page.text_content("#user") == USER

    await page.goto("http://site-a.test/")
    await page.click("#link-b")
    await page.wait_for_url("http://site-b.test/")
    assert await wait_checks(page, SITE_B_CHECKS) == ALL_OK_B
    await page.click("#to-a-landing")
    await page.wait_for_url("http://site-a.test/samesite-landing")
    assert (await page.text_content("#nav-lax"), await page.text_content("#nav-strict")) == ("yes", "no")

    await page.goto("http://site-a.test/refresh")
    await page.wait_for_url("http://site-b.test/refreshed")
    assert await page.text_content("#refreshed") == "ok"


async def test_world_js_built_urls_work_directly(direct_browser: Browser, world: World) -> None:
    page = await direct_browser.new_page()
    await page.goto("http://site-a.test/js-urls")
    assert await wait_checks(page, JS_URL_CHECKS) == ALL_OK_JS
    assert_paths_exact(world, JS_URLS_PATHS)
    await page.click("#js-nav")
    await page.wait_for_url("http://site-b.test/?from=js")


async def login(page: Page) -> None:
    await page.fill("#user", USER)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation(url="**/me"):
        await page.click("#login-submit")


# -- through cobrowse ----------------------------------------------------------------------


async def test_proxy_browser_cannot_reach_fixture_hosts_on_its_own(browser: Browser, world: World) -> None:
    """The premise of every test below: without the proxy, the world is out of reach."""
    page = await browser.new_page()
    for host in world.ports:
        with pytest.raises(PlaywrightError):
            await page.goto(f"http://{host}/", timeout=15_000)
    assert len(world.log) == 0


async def open_leader(browser: Browser, cobrowse: Cobrowse, url: str) -> tuple[Page, RequestRecorder, str]:
    """Create a session on ``url``, open its leader link; (page, recorder, session id)."""
    session = await cobrowse.create_session(url)
    context = await browser.new_context()
    recorder = RequestRecorder()
    recorder.attach(context)
    page = await context.new_page()
    await page.goto(session["leader_url"])
    assert view_in(page.url), f"the leader landed outside a view of its own: {page.url}"
    return page, recorder, str(session["id"])


def assert_all_hits_came_through_proxy(world: World) -> None:
    """The proxy sends the real Host and never forwards its own cookie or forwarding headers."""
    for hit in world.log:
        assert hit.host == hit.server, f"{hit.server}{hit.path} got Host {hit.host!r}"
        assert hit.header("X-Forwarded-For") is None and hit.header("Via") is None
        cookie = hit.header("Cookie") or ""
        assert "cobrowse" not in cookie.lower(), f"proxy credential leaked upstream: {hit.path}"
        assert DOMAIN not in " ".join(v for _, v in hit.headers), f"proxy host leaked upstream: {hit}"


async def test_site_a_features_all_work_through_proxy_and_no_request_escapes(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, recorder, session_id = await open_leader(browser, cobrowse, "http://site-a.test/")
    assert page.url == cobrowse.proxy_url(session_id, "site-a.test", "/", view=view_in(page.url))
    assert await wait_checks(page, SITE_A_CHECKS) == ALL_OK_A
    assert recorder.outside(DOMAIN) == []
    assert_paths_exact(world, SITE_A_INDEX_PATHS)
    assert_all_hits_came_through_proxy(world)


async def test_login_form_post_302_and_session_cookie_work_through_proxy(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, recorder, session_id = await open_leader(browser, cobrowse, "http://site-a.test/login")
    await login(page)
    assert page.url == cobrowse.proxy_url(session_id, "site-a.test", "/me", view=view_in(page.url))
    assert await page.text_content("#user") == USER
    posts = [h for h in world.log.for_server("site-a.test") if h.method == "POST"]
    assert [(h.path, h.header("Origin")) for h in posts] == [("/login", "http://site-a.test")]
    assert recorder.outside(DOMAIN) == []
    assert_all_hits_came_through_proxy(world)


async def test_link_to_site_b_cross_site_cookies_and_samesite_navigation_through_proxy(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, recorder, session_id = await open_leader(browser, cobrowse, "http://site-a.test/")
    assert await wait_checks(page, SITE_A_CHECKS) == ALL_OK_A
    await page.click("#link-b")
    await page.wait_for_url(cobrowse.proxy_url(session_id, "site-b.test", "/", view=view_in(page.url)))
    assert await wait_checks(page, SITE_B_CHECKS) == ALL_OK_B
    await page.click("#to-a-landing")
    await page.wait_for_url(
        cobrowse.proxy_url(session_id, "site-a.test", "/samesite-landing", view=view_in(page.url)))
    # A cross-site top-level navigation carries Lax cookies but not Strict ones.
    assert (await page.text_content("#nav-lax"), await page.text_content("#nav-strict")) == ("yes", "no")
    assert recorder.outside(DOMAIN) == []
    assert_all_hits_came_through_proxy(world)


async def test_meta_refresh_to_other_origin_works_through_proxy(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, recorder, session_id = await open_leader(browser, cobrowse, "http://site-a.test/refresh")
    await page.wait_for_url(cobrowse.proxy_url(session_id, "site-b.test", "/refreshed", view=view_in(page.url)))
    assert await page.text_content("#refreshed") == "ok"
    assert recorder.outside(DOMAIN) == []
    assert world.log.paths("site-b.test") - BROWSER_EXTRAS == {"/refreshed"}


async def test_iframe_from_site_b_is_served_from_its_own_proxy_origin(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, _, session_id = await open_leader(browser, cobrowse, "http://site-a.test/")
    assert (await wait_checks(page, ("iframe",)))["iframe"] == "ok"
    frame_urls = [f.url for f in page.frames if f is not page.main_frame]
    assert frame_urls == [cobrowse.proxy_url(session_id, "site-b.test", "/frame", view=view_in(page.url))]


async def test_urls_built_by_page_scripts_and_read_backs_work_through_proxy(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, recorder, session_id = await open_leader(browser, cobrowse, "http://site-a.test/js-urls")
    assert await wait_checks(page, JS_URL_CHECKS) == ALL_OK_JS
    assert_paths_exact(world, JS_URLS_PATHS)
    # location.href = '<real absolute URL>' lands on the proxy URL, not the real web.
    await page.click("#js-nav")
    await page.wait_for_url(cobrowse.proxy_url(session_id, "site-b.test", "/?from=js", view=view_in(page.url)))
    assert recorder.outside(DOMAIN) == []
    assert_all_hits_came_through_proxy(world)


async def test_ended_session_shows_410_page_on_next_navigation(
    browser: Browser, world: World, cobrowse: Cobrowse
) -> None:
    page, _, session_id = await open_leader(browser, cobrowse, "http://site-a.test/login")
    assert (await cobrowse.api("DELETE", f"/api/v1/sessions/{session_id}")).status == 200
    hits = len(world.log)
    response = await page.goto(cobrowse.proxy_url(session_id, "site-a.test", "/"))
    assert response is not None and response.status == 410
    assert "ended" in (await page.text_content("body") or "")
    assert len(world.log) == hits
