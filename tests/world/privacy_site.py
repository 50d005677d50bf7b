"""A bank-like login for the privacy tests (issue 8): fields that must stay in the visitor's browser.

``bank.test``: ``/`` a sign-in form with a plain user name, a password, a payment card number
(``autocomplete=cc-number``), a field the session masks by selector (``#ssn``), a note field
inside an element the session hides (``.secret``), and a balance shown in that element;
``POST /login`` answers 302 to ``/home``, which greets the user by name (never echoes the rest).
Every request is recorded in the world's ``HitLog``.
"""

from __future__ import annotations

import html

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import static_html

BANK = "bank.test"

LOGIN = """<!doctype html>
<html><head><meta charset="utf-8"><title>Bank sign-in</title></head>
<body><h1 id="title">Sign in</h1>
<form id="login" method="post" action="/login">
  <input id="user" name="user" type="text">
  <input id="password" name="password" type="password">
  <input id="card" name="card" autocomplete="cc-number">
  <input id="ssn" name="ssn" type="text">
  <div class="secret"><p id="balance">Balance: 4,321.00</p><input id="note" name="note" type="text"></div>
  <button id="go" type="submit">Sign in</button>
</form></body></html>
"""


async def _login(request: web.Request) -> web.Response:
    form = await request.post()
    raise web.HTTPFound(f"/home?user={html.escape(str(form.get('user', '')))}")


async def _home(request: web.Request) -> web.Response:
    user = html.escape(request.query.get("user", ""))
    return web.Response(text=f"<!doctype html><title>Home</title><h1 id='title'>Hello {user}</h1>",
                        content_type="text/html")


def bank(log: HitLog, host: str = BANK) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", static_html(LOGIN))
    app.router.add_post("/login", _login)
    app.router.add_get("/home", _home)
    return app
