"""The fixture world in real Chromium: first directly (the world itself works), then through cobrowse.

Through the proxy Chromium knows no fixture address (no resolver rules), so a feature can only
work if the proxy carried it. Each test also proves the request boundary: every URL Chromium asked
for is under the proxy domain (or local), and the fixture servers saw exactly the expected paths,
each with the real Host header.
"""

from __future__ import annotations

from playwright.async_api import Browser, Page
from world import BROWSER_EXTRAS, SITE_A_INDEX_PATHS, World
from world.browser import RequestRecorder, wait_checks
from world.harness import DOMAIN, Cobrowse
from world.site_a import PASSWORD, SITE_A_CHECKS, USER
from world.site_b import SITE_B_CHECKS

ALL_OK_A = dict.fromkeys(SITE_A_CHECKS, "ok")
ALL_OK_B = dict.fromkeys(SITE_B_CHECKS, "ok")


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


async def login(page: Page) -> None:
    await page.fill("#user", USER)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation(url="**/me"):
        await page.click("#login-submit")
