"""The PIN page on the control plane: a visitor types the 6-digit PIN the agent read out.

- ``GET  /pin``  the PIN form (keyboard first: the field has focus, digits only, one button).
- ``POST /pin``  (form: pin) a live PIN is used up (``sessions.pins.PinBook``) and opens a fresh
  single-use visitor link of its session, lasting ``LINK_LIFETIME``: the visitor is sent (303)
  to that link's join page, where it gives its name and joins (and, in a session with
  ``require_approval``, waits for the agent). A wrong PIN shows the form again with the reason:
  400 not six digits, 403 no such live PIN, 429 (with ``Retry-After``) after too many wrong
  PINs from the same network; the counting is the book's (per IPv4 address or IPv6 /64).

The client address is the connection's peer (``request.remote``). The PINs are issued by
``POST /api/v1/sessions/{id}/pin`` (``proxy.api_participants``).
"""

from __future__ import annotations

import hmac
import time
from hashlib import sha256
from urllib.parse import quote

from aiohttp import web

from proxy.config import Config
from proxy.join_pages import page_response, render
from proxy.keys import SERVICE
from proxy.pages import error_page
from sessions.pins import PinBook, PinRefused
from sessions.service import AdmissionError

MAX_FORM_BYTES = 1024
LINK_LIFETIME = 600.0
PINS = web.AppKey("pins", PinBook)
routes = web.RouteTableDef()


def pin_book(config: Config) -> PinBook:
    """The server's PIN book, keyed by a key derived from the server's secret (not the secret itself)."""
    return PinBook(hmac.new(config.secret_key, b"cobrowse pin book", sha256).digest())


def _form(error: str = "", status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return page_response(render("pin.html", {"error": error}), status=status, form_action="'self'",
                         headers=headers)


@routes.get("/pin")
async def pin_page(request: web.Request) -> web.Response:
    return _form()


@routes.post("/pin")
async def pin_entered(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_FORM_BYTES:
        return error_page(413, "Form too large", "The PIN form sent more than it should.")
    form = await request.post()
    now = time.time()
    opened = request.app[PINS].redeem(str(form.get("pin", "")), request.remote or "", now)
    if isinstance(opened, PinRefused):
        headers = {"Retry-After": str(opened.retry_after)} if opened.retry_after else None
        return _form(opened.message, opened.status, headers)
    try:
        secret, _ = await request.app[SERVICE].issue_visitor_link(opened, "", now, LINK_LIFETIME)
    except AdmissionError as exc:
        return error_page(exc.status, "Cannot join the session", exc.message)
    return web.Response(status=303, headers={"Location": f"/join/{opened}?link={quote(secret)}",
                                             "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
