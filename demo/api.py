"""The cart API origin of the demo (``api.demo.test``): JSON over CORS with credentials.

The shop's pages call it with ``fetch(..., {credentials: "include"})`` from another origin,
so every answer carries ``Access-Control-Allow-Origin`` set to the caller's origin when that
origin is in ``CORS_ORIGINS`` (never reflected blindly), ``Access-Control-Allow-Credentials``
and ``Vary: Origin``; JSON bodies and DELETE make the browser send a preflight first.

The cart is keyed by the API's own host-only HttpOnly ``cart`` cookie. Checkout also needs the
shop's ``shop_session`` cookie, which the shop scopes to the parent domain so it reaches here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from demo.catalogue import CORS_ORIGINS, PRODUCTS
from demo.sites import STATE, DemoState, Handler

CART_COOKIE = "cart"

_ENDPOINTS = ("GET /cart", "POST /cart/items", "DELETE /cart/items/{slug}", "POST /checkout", "GET /me")

_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def _cors(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    response.headers.add("Vary", "Origin")
    if origin in CORS_ORIGINS:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"


@web.middleware
async def _cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
        if request.headers.get("Origin") in CORS_ORIGINS:
            response.headers.update(_PREFLIGHT)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = _error(error.status, error.reason)
    _cors(request, response)
    return response


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _cart(request: web.Request) -> tuple[str, dict[str, int], bool]:
    """The caller's cart id and lines, and whether the cart was created just now."""
    carts = request.app[STATE].carts
    cart_id = request.cookies.get(CART_COOKIE)
    if cart_id is not None and cart_id in carts:
        return cart_id, carts[cart_id], False
    cart_id = secrets.token_urlsafe(12)
    carts[cart_id] = {}
    return cart_id, carts[cart_id], True


def _cart_response(cart_id: str, lines: Mapping[str, int], fresh: bool) -> web.Response:
    response = web.json_response(_cart_json(lines))
    if fresh:
        response.set_cookie(CART_COOKIE, cart_id, path="/", httponly=True, samesite="Lax")
    return response


def _cart_json(lines: Mapping[str, int]) -> dict[str, Any]:
    items = [
        {"slug": slug, "name": PRODUCTS[slug].name, "price_cents": PRODUCTS[slug].price_cents, "qty": qty}
        for slug, qty in lines.items()
    ]
    return {
        "items": items,
        "count": sum(lines.values()),
        "total_cents": sum(PRODUCTS[slug].price_cents * qty for slug, qty in lines.items()),
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(reason="Body is not JSON.") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(reason="Body must be a JSON object.")
    return data


async def _index(request: web.Request) -> web.StreamResponse:
    return web.json_response({"endpoints": _ENDPOINTS})


async def _get_cart(request: web.Request) -> web.StreamResponse:
    return _cart_response(*_cart(request))


async def _add_item(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    slug, qty = data.get("slug"), data.get("qty", 1)
    if not isinstance(slug, str) or slug not in PRODUCTS:
        return _error(404, "No such product.")
    if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 99:
        return _error(400, "qty must be a whole number from 1 to 99.")
    cart_id, lines, fresh = _cart(request)
    lines[slug] = min(99, lines.get(slug, 0) + qty)
    return _cart_response(cart_id, lines, fresh)


async def _remove_item(request: web.Request) -> web.StreamResponse:
    cart_id, lines, fresh = _cart(request)
    lines.pop(request.match_info["slug"], None)
    return _cart_response(cart_id, lines, fresh)


async def _checkout(request: web.Request) -> web.StreamResponse:
    state: DemoState = request.app[STATE]
    user = state.user_for(request)
    if user is None:
        return _error(401, "Sign in to check out.")
    lines = state.carts.get(request.cookies.get(CART_COOKIE, ""), {})
    if not lines:
        return _error(409, "Your cart is empty.")
    order, state.next_order = state.next_order, state.next_order + 1
    total = _cart_json(lines)["total_cents"]
    lines.clear()
    return web.json_response({"order": order, "user": user, "total_cents": total})


async def _me(request: web.Request) -> web.StreamResponse:
    return web.json_response({"user": request.app[STATE].user_for(request)})


def api_app(state: DemoState) -> web.Application:
    app = web.Application(middlewares=[_cors_middleware])
    app[STATE] = state
    app.router.add_get("/", _index)
    app.router.add_get("/cart", _get_cart)
    app.router.add_post("/cart/items", _add_item)
    app.router.add_delete("/cart/items/{slug}", _remove_item)
    app.router.add_post("/checkout", _checkout)
    app.router.add_get("/me", _me)
    return app
