"""The bundled demo sites, reached directly (no proxy) by a real aiohttp client.

The client resolves the demo host names through ``DemoWorld.overrides`` (the same mapping the
proxy's resolver uses), so URLs, Host headers and cookie domains are the real demo names on
port 80 while the connections go to the loopback ports ``run_demo()`` opened.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from world.browser import CHROMIUM, CHROMIUM_ARGS
from yarl import URL

from demo import DemoWorld, run_demo

SHOP = "http://shop.demo.test"
API = "http://api.demo.test"
BLOG = "http://blog.demo.test"
DEMO_ORIGINS = {SHOP, API, BLOG}


class OverrideResolver(AbstractResolver):
    """Resolves only the demo names, to the ports in the world's overrides; refuses the rest."""

    def __init__(self, overrides: dict[str, tuple[str, int]]) -> None:
        self.overrides = overrides

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        target = self.overrides.get(f"{host}:{port}")
        if target is None:
            raise OSError(f"{host}:{port} is not a demo host")
        return [
            ResolveResult(
                hostname=host, host=target[0], port=target[1], family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def world() -> AsyncIterator[DemoWorld]:
    async with run_demo() as demo:
        yield demo


@pytest.fixture
async def client(world: DemoWorld) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(resolver=OverrideResolver(dict(world.overrides)))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def set_cookies(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The response's Set-Cookie headers, parsed, by cookie name."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return dict(jar)


async def sign_in(client: aiohttp.ClientSession, user: str = "alice", password: str = "wonderland") -> None:
    form = {"username": user, "password": password, "next": "/"}
    async with client.post(f"{SHOP}/login", data=form, allow_redirects=False) as response:
        assert response.status == 302


async def test_world_overrides_map_each_demo_host_on_port_80_to_a_distinct_loopback_port(
    world: DemoWorld,
) -> None:
    assert set(world.overrides) == {"shop.demo.test:80", "api.demo.test:80", "blog.demo.test:80"}
    assert {host for host, _ in world.overrides.values()} == {"127.0.0.1"}
    assert len({port for _, port in world.overrides.values()}) == 3
    assert world.start_url == f"{SHOP}/"


async def test_run_demo_stops_its_servers_on_exit() -> None:
    async with run_demo() as demo:
        ports = [port for _, port in demo.overrides.values()]
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


PAGES = {
    f"{SHOP}/": "text/html",
    f"{SHOP}/products": "text/html",
    f"{SHOP}/products/mug": "text/html",
    f"{SHOP}/cart": "text/html",
    f"{SHOP}/login": "text/html",
    f"{SHOP}/playground": "text/html",
    f"{SHOP}/img/logo.svg": "image/svg+xml",
    f"{SHOP}/img/hero.svg": "image/svg+xml",
    f"{SHOP}/img/lamp.svg?size=2x": "image/svg+xml",
    f"{SHOP}/static/shop.css": "text/css",
    f"{SHOP}/static/shop.js": "text/javascript",
    f"{API}/": "application/json",
    f"{BLOG}/": "text/html",
    f"{BLOG}/posts/desk-setup": "text/html",
    f"{BLOG}/static/blog.css": "text/css",
    f"{BLOG}/static/paper.svg": "image/svg+xml",
    f"{BLOG}/static/icon.svg": "image/svg+xml",
}

# Absolute URLs in the demo may name the demo origins, and the SVG namespace (an identifier,
# never fetched); anything else would make the demo reach the real web.
_ABSOLUTE = re.compile(r"(?:https?:)?//[a-z0-9.-]+", re.IGNORECASE)
_ALLOWED_NON_DEMO = {"http://www.w3.org"}


async def test_every_demo_page_and_asset_answers_200_with_its_content_type(
    client: aiohttp.ClientSession,
) -> None:
    for url, content_type in PAGES.items():
        async with client.get(url) as response:
            assert response.status == 200, url
            assert response.content_type == content_type, url


async def test_demo_pages_reference_no_origin_outside_the_demo(client: aiohttp.ClientSession) -> None:
    seen: set[str] = set()
    for url in PAGES:
        async with client.get(url) as response:
            text = await response.text()
        for match in _ABSOLUTE.findall(text):
            if match.startswith("//"):
                match = "http:" + match
            assert match in DEMO_ORIGINS | _ALLOWED_NON_DEMO, (url, match)
            seen.add(match)
    assert {SHOP, API, BLOG} <= seen  # the pages do link across origins


async def test_unknown_shop_path_and_unknown_product_answer_404_pages(client: aiohttp.ClientSession) -> None:
    for url in (f"{SHOP}/nope", f"{SHOP}/products/nope", f"{BLOG}/posts/nope"):
        async with client.get(url) as response:
            assert response.status == 404, url
            assert response.content_type == "text/html"


async def test_blog_stylesheet_background_url_resolves_to_an_svg_on_the_blog(
    client: aiohttp.ClientSession,
) -> None:
    css_url = f"{BLOG}/static/blog.css"
    async with client.get(css_url) as response:
        css = await response.text()
    found = re.search(r"url\(\s*['\"]?([^'\")]+)", css)
    assert found is not None
    async with client.get(urljoin(css_url, found.group(1))) as response:
        assert response.status == 200
        assert response.content_type == "image/svg+xml"


async def test_product_list_images_use_srcset(client: aiohttp.ClientSession) -> None:
    async with client.get(f"{SHOP}/products") as response:
        html = await response.text()
    assert html.count("srcset=") == 6


async def test_theme_cookie_is_script_readable_and_only_set_when_missing(
    client: aiohttp.ClientSession,
) -> None:
    async with client.get(f"{SHOP}/") as response:
        theme = set_cookies(response)["theme"]
    assert theme.value == "light"
    assert not theme["httponly"]
    assert not theme["domain"]  # host-only
    async with client.get(f"{SHOP}/") as response:
        assert "theme" not in set_cookies(response)
    async with client.get(f"{SHOP}/static/shop.js") as response:
        assert "document.cookie" in await response.text()


async def test_login_sets_httponly_session_cookie_for_parent_domain_and_redirects(
    client: aiohttp.ClientSession,
) -> None:
    form = {"username": "alice", "password": "wonderland", "next": "/cart"}
    async with client.post(f"{SHOP}/login", data=form, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/cart"
        session = set_cookies(response)["shop_session"]
    assert session["httponly"]
    assert session["domain"] == "demo.test"
    assert session["samesite"] == "Lax"
    async with client.get(f"{SHOP}/") as response:
        assert "Signed in as <strong>alice</strong>" in await response.text()
    async with client.get(f"{API}/me") as response:
        assert await response.json() == {"user": "alice"}


async def test_login_with_wrong_password_answers_401_and_sets_no_session(
    client: aiohttp.ClientSession,
) -> None:
    form = {"username": "alice", "password": "nope"}
    async with client.post(f"{SHOP}/login", data=form, allow_redirects=False) as response:
        assert response.status == 401
        assert "wrong password" in await response.text()
        assert "shop_session" not in set_cookies(response)


async def test_login_next_parameter_never_redirects_off_site(client: aiohttp.ClientSession) -> None:
    for evil in ("//evil.example/", "http://evil.example/", "/\\evil.example"):
        form = {"username": "bob", "password": "builder", "next": evil}
        async with client.post(f"{SHOP}/login", data=form, allow_redirects=False) as response:
            assert response.headers["Location"] == "/", evil


async def test_logout_ends_the_sign_in_and_expires_the_cookie(client: aiohttp.ClientSession) -> None:
    await sign_in(client)
    token = client.cookie_jar.filter_cookies(URL(f"{SHOP}/"))["shop_session"].value
    async with client.post(f"{SHOP}/logout", allow_redirects=False) as response:
        assert response.status == 302
        assert set_cookies(response)["shop_session"]["max-age"] == "0"
    async with client.get(f"{SHOP}/") as response:
        assert "Signed in as" not in await response.text()
    # The old token is dead server-side too, not only forgotten by this browser.
    async with client.get(f"{API}/me", cookies={"shop_session": token}) as response:
        assert await response.json() == {"user": None}


async def test_cart_api_preflight_allows_the_shop_origin_with_credentials(
    client: aiohttp.ClientSession,
) -> None:
    headers = {
        "Origin": SHOP,
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "content-type",
    }
    async with client.options(f"{API}/cart/items/mug", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "DELETE" in response.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


async def test_cart_api_never_grants_cors_to_an_unknown_origin(client: aiohttp.ClientSession) -> None:
    headers = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    async with client.options(f"{API}/cart/items", headers=headers) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers
    async with client.get(f"{API}/cart", headers={"Origin": "http://evil.example"}) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Origin" in response.headers.getall("Vary")


async def test_cart_add_and_remove_keep_one_cart_in_the_api_cookie(client: aiohttp.ClientSession) -> None:
    origin = {"Origin": SHOP}
    async with client.get(f"{API}/cart", headers=origin) as response:
        assert response.content_type == "application/json"
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        cart_cookie = set_cookies(response)["cart"]
        assert await response.json() == {"items": [], "count": 0, "total_cents": 0}
    assert cart_cookie["httponly"]
    assert not cart_cookie["domain"]  # host-only: the shop never sees it
    for slug, qty in (("mug", 2), ("lamp", 1)):
        async with client.post(
            f"{API}/cart/items", json={"slug": slug, "qty": qty}, headers=origin
        ) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == SHOP
            assert "cart" not in set_cookies(response)  # the same cart, not a new one
            cart = await response.json()
    assert cart["count"] == 3
    assert cart["total_cents"] == 2 * 1400 + 4900
    async with client.delete(f"{API}/cart/items/mug", headers=origin) as response:
        cart = await response.json()
    assert [(item["slug"], item["qty"]) for item in cart["items"]] == [("lamp", 1)]
    async with client.get(f"{SHOP}/", headers=origin) as response:
        assert "cart" not in {c.key for c in client.cookie_jar.filter_cookies(response.url).values()}


async def test_cart_api_answers_bad_requests_with_json_errors(client: aiohttp.ClientSession) -> None:
    cases = [
        ({"json": {"slug": "unicorn"}}, 404),
        ({"json": {"slug": "mug", "qty": 0}}, 400),
        ({"json": {"slug": "mug", "qty": True}}, 400),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": ["mug"]}, 400),
    ]
    for kwargs, status in cases:
        async with client.post(f"{API}/cart/items", **kwargs) as response:
            assert response.status == status, kwargs
            assert "error" in await response.json()


async def test_checkout_needs_sign_in_then_places_one_order_and_empties_the_cart(
    client: aiohttp.ClientSession,
) -> None:
    async with client.post(f"{API}/cart/items", json={"slug": "clock"}) as response:
        assert response.status == 200
    async with client.post(f"{API}/checkout", json={}, headers={"Origin": SHOP}) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
    await sign_in(client)
    async with client.post(f"{API}/checkout", json={}) as response:
        assert response.status == 200
        order = await response.json()
    assert order == {"order": 1001, "user": "alice", "total_cents": 3200}
    async with client.get(f"{API}/cart") as response:
        assert (await response.json())["count"] == 0
    async with client.post(f"{API}/checkout", json={}) as response:
        assert response.status == 409


async def test_playground_form_post_echoes_every_submitted_field(client: aiohttp.ClientSession) -> None:
    form = {"name": "Ada <b>", "shipping": "express", "payment": "invoice", "gift": "yes"}
    async with client.post(f"{SHOP}/playground", data=form) as response:
        html = await response.text()
    assert "<th>shipping</th><td>express</td>" in html
    assert "<th>payment</th><td>invoice</td>" in html
    assert "Ada &lt;b&gt;" in html and "Ada <b>" not in html
    for control in ('type="radio"', 'type="checkbox"', "<select", 'class="scrollbox"'):
        assert control in html


async def test_two_running_demos_share_no_state() -> None:
    async with run_demo() as first, run_demo() as second:
        sessions = []
        for demo in (first, second):
            connector = aiohttp.TCPConnector(resolver=OverrideResolver(dict(demo.overrides)))
            sessions.append(aiohttp.ClientSession(connector=connector))
        one, two = sessions
        try:
            await sign_in(one)
            token = one.cookie_jar.filter_cookies(URL(f"{SHOP}/"))["shop_session"].value
            async with two.get(f"{API}/me", cookies={"shop_session": token}) as response:
                assert await response.json() == {"user": None}
        finally:
            for session in sessions:
                await session.close()


HAVE_CHROMIUM = CHROMIUM.exists()  # checked once, at import, not inside the event loop


async def test_in_chromium_the_shop_scripts_fill_the_cart_sign_in_and_check_out(world: DemoWorld) -> None:
    """The demo's own JS works in a real browser before any proxy is involved (direct, no proxy)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not HAVE_CHROMIUM:
        pytest.skip("Debian Chromium not installed")
    # Chromium maps each demo name to its loopback port itself, so the pages keep their port-80 URLs.
    rules = ",".join(
        f"MAP {key.split(':')[0]} {host}:{port}" for key, (host, port) in world.overrides.items()
    )
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"]
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            await page.goto(f"{SHOP}/products")
            await page.click("[data-add=mug]")
            await page.click("[data-add=lamp]")
            await page.wait_for_function("document.querySelector('[data-cart-count]').textContent === '2'")
            await page.click("#theme-toggle")
            assert await page.evaluate("document.cookie") == "theme=dark"  # HttpOnly cookies stay hidden
            await page.goto(f"{SHOP}/login?next=/cart")
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", "wonderland")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#cart-body tr")
            assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
            assert "Signed in as alice" in (await page.text_content(".who") or "")
            await page.click("#checkout")
            await page.wait_for_selector("#checkout-result.notice")
            assert "placed for alice" in (await page.text_content("#checkout-result") or "")
            await page.goto(f"{BLOG}/")
            assert "paper.svg" in await page.evaluate("getComputedStyle(document.body).backgroundImage")
            assert errors == []
        finally:
            await browser.close()
