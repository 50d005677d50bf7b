"""Django's admin, a real third-party app, in Chromium: directly, then through cobrowse.

The admin checks Host (ALLOWED_HOSTS) and, on every POST, the CSRF cookie, token and Origin, so
it only works through the proxy if the proxy sends the real Host/Origin/Referer and keeps the
session and CSRF cookies in its jar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from django_target.server import ADMIN_PASSWORD, ADMIN_USER, DjangoTarget, start_django
from playwright.async_api import Browser, Page, Playwright
from world.browser import RequestRecorder, launch
from world.harness import DOMAIN, StartCobrowse, view_in

NOTE_TITLE = "Note written through the proxy"


@pytest.fixture
async def django_target(tmp_path: Path) -> AsyncIterator[DjangoTarget]:
    async with start_django(tmp_path) as target:
        yield target


async def admin_round_trip(page: Page, base: str) -> None:
    """Log in, add a Note, see it listed, log out; ``base`` is the admin's origin as the page sees it."""
    await page.goto(f"{base}/admin/")
    await page.wait_for_selector("#id_username")
    await page.fill("#id_username", ADMIN_USER)
    await page.fill("#id_password", ADMIN_PASSWORD)
    async with page.expect_navigation():
        await page.click("input[type=submit]")
    await page.wait_for_selector("#site-name")
    assert "Site administration" in (await page.text_content("#content h1") or "")

    async with page.expect_navigation():
        await page.click("a[href='/admin/notes/note/add/']")
    await page.fill("#id_title", NOTE_TITLE)
    async with page.expect_navigation():
        await page.click("input[name=_save]")
    assert page.url.endswith("/admin/notes/note/")
    assert NOTE_TITLE in (await page.text_content("#result_list") or "")

    async with page.expect_navigation():
        await page.click("#logout-form button")
    assert "Logged out" in (await page.text_content("#content") or "")
    await page.goto(f"{base}/admin/")
    await page.wait_for_selector("#id_username")


async def test_django_admin_round_trip_works_in_chromium_directly(
    playwright: Playwright, django_target: DjangoTarget
) -> None:
    browser = await launch(playwright, (f"--host-resolver-rules=MAP django.test 127.0.0.1:{django_target.port}",))
    try:
        await admin_round_trip(await browser.new_page(), "http://django.test")
    finally:
        await browser.close()


async def test_django_admin_login_add_list_logout_through_proxy(
    browser: Browser, django_target: DjangoTarget, start_server: StartCobrowse
) -> None:
    server = await start_server(resolve_overrides=django_target.resolve_overrides())
    session = await server.create_session("http://django.test/admin/")
    context = await browser.new_context()
    recorder = RequestRecorder()
    recorder.attach(context)
    page = await context.new_page()
    await page.goto(session["leader_url"])
    await page.wait_for_selector("#id_username")
    base = server.proxy_url(session["id"], "django.test", "", view=view_in(page.url)).rstrip("/")
    assert view_in(page.url)
    assert page.url.startswith(base)

    await admin_round_trip(page, base)
    assert recorder.outside(DOMAIN) == []
