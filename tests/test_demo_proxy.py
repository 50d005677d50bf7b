"""The bundled demo, through the proxy in real Chromium: what a newcomer's first session does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser
from world.harness import StartCobrowse

from demo import DemoWorld, run_demo


@pytest.fixture
async def demo() -> AsyncIterator[DemoWorld]:
    async with run_demo() as world:
        yield world


async def test_demo_shop_cart_login_checkout_and_blog_work_through_the_proxy(
        browser: Browser, demo: DemoWorld, start_server: StartCobrowse) -> None:
    server = await start_server(resolve_overrides=dict(demo.overrides))
    created = await server.create_session(demo.start_url + "products")
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: outside.append(req.url)
            if not req.url.split("/")[2].split(":")[0].endswith("cobrowse.localhost") else None)
    try:
        await page.goto(created["leader_url"])
        assert ".cobrowse.localhost" in page.url and "/products" in page.url
        await page.click("[data-add=mug]")
        await page.click("[data-add=lamp]")
        await page.wait_for_function("document.querySelector('[data-cart-count]').textContent === '2'")
        await page.click("#theme-toggle")
        assert await page.evaluate("document.cookie") == "theme=dark"  # HttpOnly session cookie stays hidden
        await page.click("a[href$='/login'], a[href*='/login']")
        await page.fill("input[name=username]", "alice")
        await page.fill("input[name=password]", "wonderland")
        await page.click("button[type=submit]")
        await page.wait_for_selector(".who")
        assert "Signed in as alice" in (await page.text_content(".who") or "")
        await page.goto(server.proxy_url(created["id"], "shop.demo.test", "/cart"))
        await page.wait_for_selector("#cart-body tr")
        await page.click("#checkout")
        await page.wait_for_selector("#checkout-result.notice")
        assert "placed for alice" in (await page.text_content("#checkout-result") or "")
        await page.click("a[href*='blog']")
        await page.wait_for_load_state()
        assert "h-blog-demo-test--" in page.url
        assert "paper.svg" in await page.evaluate("getComputedStyle(document.body).backgroundImage")
        assert errors == []
        assert outside == []
    finally:
        await context.close()
