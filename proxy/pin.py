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

``Pins`` keeps the book and the failures in the shared state (``sessions.shared``): the book is
one value (``pins``) changed by one transaction per issue or redeem, so a PIN issued through one
server process opens its session through any other, once; a client's failures are one value
each (``pin-failures:<client>``), kept for the rules' window after the last.
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
from sessions.pins import (
    NOT_VALID,
    TOO_MANY,
    IssuedPin,
    PinBook,
    PinBookFull,
    PinRefused,
    PinRules,
    client_key,
    failed,
    failure_wait,
    typed_pin,
)
from sessions.service import AdmissionError
from sessions.shared import Shared, Write

MAX_FORM_BYTES = 1024
LINK_LIFETIME = 600.0
BOOK = "pins"
FAILURES = "pin-failures:"
routes = web.RouteTableDef()


class Pins:
    """The PIN book and the failures of each client, in the shared state."""

    def __init__(self, shared: Shared, key: bytes, rules: PinRules | None = None) -> None:
        self._shared, self._key, self.rules = shared, key, rules or PinRules()

    async def issue(self, session_id: str, now: float, until: float) -> IssuedPin:
        """A fresh PIN for the session (``PinBook.issue``); raises ``PinBookFull``."""
        def change(held: str | None) -> tuple[Write | None, IssuedPin | PinBookFull]:
            book = PinBook.load(self._key, self.rules, held)
            try:
                issued = book.issue(session_id, now, until)
            except PinBookFull as full:
                return None, full
            return Write(value=book.dump()), issued

        got = await self._shared.transact(BOOK, change)
        if isinstance(got, PinBookFull):
            raise got
        return got

    async def redeem(self, pin: str, client: str, now: float) -> str | PinRefused:
        """The session a typed PIN opens (the PIN is used up), or why not."""
        failures = FAILURES + client_key(client)
        wait = failure_wait(await self._shared.get(failures), now, self.rules)
        if wait:
            return PinRefused(429, TOO_MANY, wait)
        typed = typed_pin(pin)
        if isinstance(typed, PinRefused):
            return typed

        def take(held: str | None) -> tuple[Write | None, str | None]:
            book = PinBook.load(self._key, self.rules, held)
            opened = book.take(typed, now)
            return (Write(value=book.dump()) if opened is not None else None), opened

        opened = await self._shared.transact(BOOK, take)
        if opened is not None:
            return opened
        await self._shared.transact(failures, lambda held: (
            Write(value=failed(held, now, self.rules), ttl=self.rules.window), None))
        return PinRefused(403, NOT_VALID)


def pins(config: Config, shared: Shared) -> Pins:
    """The server's PINs, keyed by a key derived from the server's secret (not the secret itself)."""
    return Pins(shared, hmac.new(config.secret_key, b"cobrowse pin book", sha256).digest())


PINS = web.AppKey("pins", Pins)


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
    opened = await request.app[PINS].redeem(str(form.get("pin", "")), request.remote or "", now)
    if isinstance(opened, PinRefused):
        headers = {"Retry-After": str(opened.retry_after)} if opened.retry_after else None
        return _form(opened.message, opened.status, headers)
    try:
        secret, _ = await request.app[SERVICE].issue_visitor_link(opened, "", now, LINK_LIFETIME)
    except AdmissionError as exc:
        return error_page(exc.status, "Cannot join the session", exc.message)
    return web.Response(status=303, headers={"Location": f"/join/{opened}?link={quote(secret)}",
                                             "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
