"""Issue 8, item 4: privacy controls enforced where the data starts, in real Chromium.

A bank-like sign-in (``world/privacy_site.py``) co-browsed by an agent (leader) and a visitor
(follower) on a session whose options mask ``#ssn`` and hide ``.secret``:

- the visitor, in control, types a user name (the control value), a password, a card number,
  a masked field and a field inside a hidden element, and signs in; none of the four secrets
  appears in any sync message either browser sent or received, in the audit trail (decrypted
  export), in the response store, or in any log line, raw, URL-encoded or base64 at any
  alignment, while the user name does (the search sees what it looks for);
- the agent's screen blanks the hidden element, the visitor's shows it;
- a view-only session offers no control to the visitor; a session's deny list and allow list
  each block a page with a page naming the session's rule.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocket
from world.harness import Cobrowse, StartCobrowse, view_in
from world.leaks import leaks
from world.party import BrowserParty, join, lead
from world.privacy_site import BANK, bank
from world.targets import World, start_world

from proxy.cli import main
from proxy.keys import RESPONSES

START = f"http://{BANK}/"
SECRETS = {"password": "hunter2-Secret-9", "card": "4111111111111111", "ssn": "987-65-4321",
           "hidden note": "note-hidden-5512"}
CONTROL = {"user name": "plain-control-7731"}
OPTIONS = {"mask_selectors": ["#ssn"], "hide_selectors": [".secret"],
           "deny_domains": ["admin.bank.test"]}


@pytest.fixture
async def bank_world() -> AsyncIterator[World]:
    world = await start_world({BANK: bank, f"admin.{BANK}": bank})
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
async def server(bank_world: World, start_server: StartCobrowse, tmp_path: Path) -> Cobrowse:
    return await start_server(resolve_overrides=bank_world.resolve_overrides(), data_dir=str(tmp_path))


@pytest.fixture
async def server_with_bodies(bank_world: World, start_server: StartCobrowse, tmp_path: Path) -> Cobrowse:
    """The audit trail keeps bodies (64 KiB): the sign-in's form is recorded, redacted."""
    return await start_server(resolve_overrides=bank_world.resolve_overrides(), data_dir=str(tmp_path),
                              audit_bodies=64 * 1024)


class Frames:
    """Every sync message a context's pages send or receive."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def install(self, context: BrowserContext) -> None:
        context.on("page", self._page)

    def _page(self, page: Page) -> None:
        page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        for event in ("framesent", "framereceived"):
            ws.on(event, lambda payload: self.data.append(
                payload if isinstance(payload, bytes) else str(payload).encode()))

    def blob(self) -> bytes:
        return b"\n".join(self.data)


async def session(server: Cobrowse, options: dict[str, Any]) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": START, "options": options})
    assert reply.status == 201, reply.text
    created: dict[str, Any] = json.loads(reply.body)
    return created


async def pair(browser: Browser, server: Cobrowse, options: dict[str, Any],
               frames: Frames | None = None) -> tuple[dict[str, Any], BrowserParty, BrowserParty]:
    created = await session(server, options)
    install = frames.install if frames is not None else None
    leader = await lead(browser, created, before=install)
    follower = await join(browser, created, "Vic", before=install)
    await follower.wait_url(START)
    await leader.wait_js("() => window.__cbSync.status().participants.filter((p) => p.connected).length === 2")
    return created, leader, follower


async def value(party: BrowserParty, selector: str) -> str:
    got: str = await party.page.evaluate("(s) => document.querySelector(s).value", selector)
    return got


async def test_secrets_typed_by_the_visitor_never_leave_its_browser_but_the_control_value_does(
        browser: Browser, server: Cobrowse, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    await typed_secrets_stay_in_the_browser(browser, server, tmp_path, caplog, capsys)


async def test_with_audit_bodies_the_sign_in_form_is_recorded_without_its_secrets(
        browser: Browser, server_with_bodies: Cobrowse, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Bodies on: the POST's form is in the trail with the user name, and the masked fields' values
    (card, note: masked by the page's runtime naming them in a ``privacy`` message; password,
    ssn: also by the built-in table) are not, each named in the record's ``redacted``."""
    records = await typed_secrets_stay_in_the_browser(browser, server_with_bodies, tmp_path, caplog, capsys)
    login = next(r for r in records if r["kind"] == "exchange" and r["method"] == "POST")
    sent = base64.b64decode(login["request_body"])
    assert f"user={CONTROL['user name']}X".encode() in sent and sent.count(b"=REDACTED") == 4
    assert {"field:password", "field:card", "field:ssn", "field:note"} <= set(login["redacted"])
    privacy = [r for r in records if r["kind"] == "event" and r["name"] == "privacy"]
    named = {n for r in privacy for n in r["detail"]["names"].split(",")}
    assert {"password", "card", "ssn", "note"} <= named
    assert {r["participant"] for r in privacy} <= {leader_id(records), follower_id(records)}


def leader_id(records: list[dict[str, Any]]) -> str:
    return next(r["participant"] for r in records if r["kind"] == "event" and r["name"] == "created")


def follower_id(records: list[dict[str, Any]]) -> str:
    return next(r["participant"] for r in records
                if r["kind"] == "event" and r["name"] == "joined" and r["detail"].get("role") == "follower")


async def typed_secrets_stay_in_the_browser(
        browser: Browser, server: Cobrowse, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The visitor types the secrets and signs in; searched everywhere. The trail's records."""
    caplog.set_level(logging.DEBUG)
    frames = Frames()
    created, leader, follower = await pair(browser, server, OPTIONS, frames)
    await leader.toolbar(f"button[data-action=grant][data-to='{follower.id}']").click()
    await follower.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)

    await follower.page.click("#user")
    await follower.page.keyboard.type(CONTROL["user name"])
    for field, secret in (("#password", "password"), ("#card", "card"), ("#ssn", "ssn"), ("#note", "hidden note")):
        await follower.page.click(field)
        await follower.page.keyboard.type(SECRETS[secret])
    await follower.page.click("#user")
    await follower.page.keyboard.press("End")
    await follower.page.keyboard.type("X")  # a fence: its input is sent after every key before it
    assert await value(follower, "#user") == CONTROL["user name"] + "X"
    await leader.wait_js("(v) => document.getElementById('user').value === v", arg=CONTROL["user name"] + "X")
    assert [await value(leader, s) for s in ("#password", "#card", "#ssn", "#note")] == ["", "", "", ""]
    # The agent sees that the masked fields hold something, not what.
    placeholders = await leader.page.evaluate(
        "() => ['#password', '#card', '#ssn'].map((s) => document.querySelector(s).placeholder)")
    assert placeholders == ["•••••••• (private)"] * 3

    await follower.page.click("#go")
    await follower.wait_url(f"http://{BANK}/home?user={CONTROL['user name']}X")
    await leader.wait_url(f"http://{BANK}/home?user={CONTROL['user name']}X")
    await leader.context.close()
    await follower.context.close()

    store = server.runner.app[RESPONSES].for_session(created["id"])
    dumped = b"\n".join([repr((e.key, e.head)).encode() + await store.body_of(e) for e in await store.entries()])
    export = tmp_path / "export.jsonl"
    assert main(["audit", "export", created["id"], "--format", "jsonl", "-o", str(export),
                 "--data-dir", str(tmp_path)]) == 0
    audit = export.read_bytes()
    logs = caplog.text.encode() + capsys.readouterr().err.encode()
    for name, blob in (("sync messages", frames.blob()), ("audit trail", audit), ("response store", dumped),
                       ("logs", logs)):
        assert leaks(blob, SECRETS) == [], f"a secret leaked into the {name}"
    assert leaks(frames.blob(), CONTROL) == ["user name"]
    assert leaks(audit, CONTROL) == ["user name"]  # the sign-in's redirect names the user
    assert leaks(dumped, CONTROL) == ["user name"]
    return [json.loads(line)["record"] for line in audit.splitlines()]


async def test_hidden_elements_are_blanked_on_the_agents_screen_only(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await pair(browser, server, OPTIONS)
    visibility = "() => getComputedStyle(document.getElementById('balance')).visibility"
    assert await leader.page.evaluate(visibility) == "hidden"
    assert await follower.page.evaluate(visibility) == "visible"
    assert await leader.page.evaluate("() => getComputedStyle(document.getElementById('user')).visibility") == \
        "visible"


async def test_view_only_session_offers_the_visitor_no_control(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await pair(browser, server, {"view_only": True})
    await follower.toolbar(".ask").wait_for()
    assert await follower.toolbar(".ask").inner_text() == "View only"
    assert await follower.toolbar("button[data-action=request]").count() == 0
    assert await leader.toolbar("button[data-action=grant]").count() == 0
    assert await leader.toolbar("button[data-action=end]").count() == 1  # the leader's bar is drawn


@pytest.mark.parametrize(("lists", "rule"), [
    ({"deny_domains": [f"admin.{BANK}"]}, "session's deny list"),
    ({"allow_domains": [BANK]}, "session's allow list"),
])
async def test_a_sessions_domain_lists_block_a_page_with_a_page_naming_the_rule(
        browser: Browser, server: Cobrowse, bank_world: World, lists: dict[str, list[str]], rule: str) -> None:
    created, leader, _ = await pair(browser, server, lists)
    # Denied: a subdomain the deny list names. Not allowed: a site outside the allow list (bank.test
    # and its subdomains). Either is refused before any connection, with a page naming the rule.
    target = server.proxy_url(created["id"], f"admin.{BANK}" if "deny_domains" in lists else "other.test", "/",
                              view=view_in(leader.page.url))
    reply = await leader.page.goto(target)
    assert reply is not None and reply.status == 403
    text = await leader.page.evaluate("() => document.body.innerText")
    assert ("admin.bank.test" in text or "other.test" in text) and rule in text
    assert [h for h in bank_world.log if h.server != BANK] == []
