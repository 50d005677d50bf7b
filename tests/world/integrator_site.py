"""An integrator's shop carrying the visitor snippet, for the snippet tests (issue 9 item 2).

``shop.test`` (``shop(settings)`` builds it; ``settings`` is filled in once the cobrowse server
runs, since the snippet tag names the server):

- ``/login`` a sign-in form; ``POST /login`` sets an HttpOnly session cookie ``shop_sid`` (and a
  plain ``lang=nb`` a page can read) and answers 303 to ``/account``;
- ``/account`` greets the signed-in user (``#who``: "Signed in as <name>" only with a valid
  ``shop_sid``, else "Not signed in"), shows ``#lang`` from the cookie, ``#cart`` filled at load
  by the page's own script from ``localStorage.cart`` (so it shows whether storage was there
  before the page's scripts ran), an address form (``#street``, ``#city``, ``#notes``,
  ``#gift``), and a link ``#orders`` to ``/orders``;
- ``/orders`` lists the signed-in user's orders (``#orders-of``);
- ``POST /cobrowse/continue`` the continuation endpoint of docs/snippet.md: it reads the
  browser's HttpOnly ``shop_sid`` and hands it to cobrowse's API server to server with the
  shop's own API key (``visitors:watch``).
Every page carries the snippet tag (``data-skip-storage="token"``: the shop keeps ``token``
back). Every request is recorded in the world's ``HitLog``.
"""

from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.targets import AppFactory

SHOP = "shop.test"
USER = "Vera"


@dataclass(slots=True)
class ShopSettings:
    """What the shop knows of cobrowse: filled in after the server starts."""

    control: str = ""  # the control plane's origin, as a browser reaches it
    api_port: int = 0  # the server's loopback port, for the shop's server-to-server call
    site_key: str = ""
    api_key: str = ""
    consent: bool = True
    skip_storage: str = "token"  # data-skip-storage: kept back from the session
    button: bool = True  # data-button="on": the "Co-browse this page" button
    signed_in: dict[str, str] = field(default_factory=dict)  # shop_sid -> user name


def _tag(settings: ShopSettings) -> str:
    consent = ("" if settings.consent else ' data-consent="off"') + (' data-button="on"' if settings.button else "")
    return (f'<script src="{html.escape(settings.control)}/snippet.js" data-site-key="{html.escape(settings.site_key)}"'
            f' data-continuation="/cobrowse/continue" data-skip-storage="{html.escape(settings.skip_storage)}"'
            f'{consent} async></script>')


def _page(settings: ShopSettings, title: str, body: str) -> web.Response:
    text = (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{_tag(settings)}</head>'
            f"<body>{body}</body></html>")
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


LOGIN = """<h1>Sign in</h1><form id="login" method="post" action="/login">
<input id="user" name="user"><input id="password" name="password" type="password">
<button id="go" type="submit">Sign in</button></form>"""

ACCOUNT = """<h1>Your account</h1><p id="who">{who}</p><p id="lang">lang: {lang}</p>
<p>Cart: <span id="cart">?</span></p>
<script>document.getElementById('cart').textContent = localStorage.getItem('cart') || 'empty';</script>
<form id="address" onsubmit="return false">
<input id="street" name="street"><input id="city" name="city">
<textarea id="notes" name="notes"></textarea><input id="gift" name="gift" type="checkbox" value="yes">
<input id="pin" name="pin" type="password"></form>
<p><a id="orders" href="/orders">Your orders</a></p>"""


def shop(settings: ShopSettings) -> AppFactory:
    """The factory ``start_world`` calls (``factory(log, host)``)."""

    def factory(log: HitLog, host: str) -> web.Application:
        def user(request: web.Request) -> str:
            return settings.signed_in.get(request.cookies.get("shop_sid", ""), "")

        async def login_page(request: web.Request) -> web.Response:
            return _page(settings, "Sign in", LOGIN)

        async def login(request: web.Request) -> web.Response:
            form = await request.post()
            sid = secrets.token_urlsafe(16)
            settings.signed_in[sid] = str(form.get("user", "")) or USER
            response = web.Response(status=303, headers={"Location": "/account"})
            response.set_cookie("shop_sid", sid, path="/", httponly=True, samesite="Lax")
            response.set_cookie("lang", "nb", path="/", samesite="Lax")
            return response

        async def account(request: web.Request) -> web.Response:
            name = user(request)
            who = f"Signed in as {html.escape(name)}" if name else "Not signed in"
            lang = html.escape(request.cookies.get("lang", "-"))
            return _page(settings, "Account", ACCOUNT.format(who=who, lang=lang))

        async def orders(request: web.Request) -> web.Response:
            name = user(request)
            text = f"Orders of {html.escape(name)}" if name else "Not signed in"
            body = f'<h1 id="orders-of">{text}</h1><p><a id="back" href="/account">Back</a></p>'
            return _page(settings, "Orders", body)

        async def continue_(request: web.Request) -> web.Response:
            """The site's continuation endpoint: same origin, so the browser sent the HttpOnly cookie."""
            token = (await request.json()).get("visitor_token", "")
            cookies = [{"name": "shop_sid", "value": request.cookies["shop_sid"], "path": "/", "httpOnly": True}
                       ] if "shop_sid" in request.cookies else []
            async with aiohttp.ClientSession() as client, client.post(
                    f"http://127.0.0.1:{settings.api_port}/api/v1/visitors/continuation",
                    headers={"Host": settings.control.split("//", 1)[1],
                             "Authorization": f"Bearer {settings.api_key}"},
                    data=json.dumps({"visitor_token": token, "cookies": cookies}),
            ) as answer:
                return web.Response(status=204 if answer.status == 200 else 502)

        app = web.Application(middlewares=[hit_middleware(log, host)])
        app.router.add_get("/", login_page)
        app.router.add_get("/login", login_page)
        app.router.add_post("/login", login)
        app.router.add_get("/account", account)
        app.router.add_get("/orders", orders)
        app.router.add_post("/cobrowse/continue", continue_)
        return app

    return factory
