"""The shop and blog target apps of the demo, and the state they share with the cart API.

Each origin is its own ``web.Application`` on its own loopback port, so the proxy sees the
demo exactly as it sees real sites: separate origins, absolute links between them, cookies
set by one and read by another. State lives in one ``DemoState`` per ``run_demo()`` (reached
through ``STATE``), never in module globals.

Cookies the shop sets, each chosen to exercise one rule of the proxy's jar:
  ``shop_session``  HttpOnly, SameSite=Lax, ``Domain=demo.test`` (the API reads it at checkout);
  ``theme``         not HttpOnly, host-only; the page's script reads and writes it via
                    ``document.cookie``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from demo.catalogue import COOKIE_DOMAIN, POSTS, PRODUCTS, USERS
from demo.pages import assets, blog, shop

SESSION_COOKIE = "shop_session"
THEME_COOKIE = "theme"


@dataclass(slots=True)
class DemoState:
    """Mutable state of one running demo: sign-ins, carts and the order counter."""

    sign_ins: dict[str, str] = field(default_factory=dict)  # session token -> user name
    carts: dict[str, dict[str, int]] = field(default_factory=dict)  # cart id -> slug -> qty
    next_order: int = 1001

    def user_for(self, request: web.Request) -> str | None:
        token = request.cookies.get(SESSION_COOKIE)
        return None if token is None else self.sign_ins.get(token)


STATE = web.AppKey("demo_state", DemoState)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _static(body: str, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=body, content_type=content_type, headers={"Cache-Control": "public, max-age=60"}
        )

    return handler


def _safe_next(value: str | None) -> str:
    # Only same-origin paths: "//evil" and "http://..." would make the login an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# -- shop ---------------------------------------------------------------------------------


def _page(request: web.Request, html: str, status: int = 200) -> web.Response:
    response = web.Response(text=html, content_type="text/html", status=status)
    if THEME_COOKIE not in request.cookies:
        response.set_cookie(THEME_COOKIE, "light", path="/", max_age=365 * 86400, samesite="Lax")
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _user(request: web.Request) -> str | None:
    return request.app[STATE].user_for(request)


async def _home(request: web.Request) -> web.StreamResponse:
    return _page(request, shop.home(_user(request)))


async def _products(request: web.Request) -> web.StreamResponse:
    return _page(request, shop.product_list(_user(request)))


async def _product(request: web.Request) -> web.StreamResponse:
    product = PRODUCTS.get(request.match_info["slug"])
    if product is None:
        return _page(request, shop.not_found(_user(request)), status=404)
    return _page(request, shop.product_page(product, _user(request)))


async def _cart(request: web.Request) -> web.StreamResponse:
    return _page(request, shop.cart(_user(request)))


async def _login_form(request: web.Request) -> web.StreamResponse:
    next_url = _safe_next(request.query.get("next"))
    return _page(request, shop.login(_user(request), next_url))


async def _login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    if USERS.get(name) != password or not password:
        html = shop.login(None, next_url, error="Unknown user name or wrong password.")
        return _page(request, html, status=401)
    token = secrets.token_urlsafe(18)
    request.app[STATE].sign_ins[token] = name
    response = _redirect(next_url)
    response.set_cookie(SESSION_COOKIE, token, domain=COOKIE_DOMAIN, path="/", httponly=True, samesite="Lax")
    return response


async def _logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token is not None:
        request.app[STATE].sign_ins.pop(token, None)
    response = _redirect("/")
    response.del_cookie(SESSION_COOKIE, domain=COOKIE_DOMAIN, path="/")
    return response


async def _playground(request: web.Request) -> web.StreamResponse:
    received = None
    if request.method == "POST":
        form = await request.post()
        received = [(key, str(value)) for key, value in form.items()]
    return _page(request, shop.playground(_user(request), received))


async def _product_image(request: web.Request) -> web.StreamResponse:
    # One drawing serves both srcset densities (?size=2x): SVG scales, the URL differs.
    product = PRODUCTS.get(request.match_info["slug"])
    if product is None:
        raise web.HTTPNotFound()
    return web.Response(text=assets.product_svg(product), content_type="image/svg+xml")


async def _shop_not_found(request: web.Request) -> web.StreamResponse:
    return _page(request, shop.not_found(_user(request)), status=404)


def shop_app(state: DemoState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/", _home)
    app.router.add_get("/products", _products)
    app.router.add_get("/products/{slug}", _product)
    app.router.add_get("/cart", _cart)
    app.router.add_get("/login", _login_form)
    app.router.add_post("/login", _login)
    app.router.add_post("/logout", _logout)
    app.router.add_route("GET", "/playground", _playground)
    app.router.add_route("POST", "/playground", _playground)
    app.router.add_get("/img/logo.svg", _static(assets.LOGO_SVG, "image/svg+xml"))
    app.router.add_get("/img/hero.svg", _static(assets.HERO_SVG, "image/svg+xml"))
    app.router.add_get("/img/{slug}.svg", _product_image)
    app.router.add_get("/static/shop.css", _static(assets.SHOP_CSS, "text/css"))
    app.router.add_get("/static/shop.js", _static(assets.SHOP_JS, "text/javascript"))
    app.router.add_get("/{tail:.*}", _shop_not_found)
    return app


# -- blog ---------------------------------------------------------------------------------


async def _blog_index(request: web.Request) -> web.StreamResponse:
    return web.Response(text=blog.index(), content_type="text/html")


async def _blog_post(request: web.Request) -> web.StreamResponse:
    post = POSTS.get(request.match_info["slug"])
    if post is None:
        return web.Response(text=blog.not_found(), content_type="text/html", status=404)
    return web.Response(text=blog.post(post), content_type="text/html")


def blog_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _blog_index)
    app.router.add_get("/posts/{slug}", _blog_post)
    app.router.add_get("/static/blog.css", _static(assets.BLOG_CSS, "text/css"))
    app.router.add_get("/static/paper.svg", _static(assets.PAPER_SVG, "image/svg+xml"))
    app.router.add_get("/static/icon.svg", _static(assets.LOGO_SVG, "image/svg+xml"))
    return app
