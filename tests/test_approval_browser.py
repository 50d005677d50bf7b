"""The visitor's way in and the agent's hand on it, in real Chromium with the fixture world: a
visitor types the PIN and its name by keyboard alone, waits until the agent approves through the
API, then lands in the session; control given through the API shows on both toolbars; a removed
visitor's page says so, and so does its next page load; a declined visitor's waiting page says
so. The visitor's own pages (PIN, join, waiting) log no console error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page
from world.harness import AGENT, Cobrowse, StartCobrowse
from world.party import WAIT_MS, BrowserParty, lead
from world.targets import World

A = "http://sync-a.test/"


@pytest.fixture
async def server(sync_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sync_world.resolve_overrides())


def collect_errors(page: Page, origin: str) -> list[str]:
    """Console errors and uncaught exceptions of the page while it shows one of our pages at
    ``origin`` (the control plane), not the target site's own."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and str(message.location.get("url", "")).startswith(origin):
            errors.append(message.text)

    def on_error(error: Error) -> None:
        if page.url.startswith(origin):
            errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return errors


async def create(server: Cobrowse, **options: Any) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": A, "agent": AGENT, "options": options})
    assert reply.status == 201, reply.text
    created: dict[str, Any] = json.loads(reply.body)
    return created


async def waiting_by_pin(browser: Browser, server: Cobrowse, created: dict[str, Any],
                         name: str) -> tuple[BrowserParty, list[str]]:
    """A visitor who typed the session's PIN and its name with the keyboard alone, now waiting;
    and the errors its pages log from the first (``collect_errors``)."""
    issued = json.loads((await server.api("POST", f"/api/v1/sessions/{created['id']}/pin")).body)
    context = await browser.new_context()
    page = await context.new_page()
    errors = collect_errors(page, server.control)
    await page.goto(issued["pin_url"])
    await page.wait_for_function("() => document.activeElement && document.activeElement.id === 'pin'")
    await page.keyboard.type(issued["pin"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/join/{created['id']}?link=*")
    await page.wait_for_function("() => document.activeElement && document.activeElement.id === 'name'")
    notice = await page.locator("#notice").inner_text()
    assert "sees the pages you browse together" in notice and "passwords" in notice
    await page.keyboard.type(name)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/join/{created['id']}/wait")
    assert await page.locator("h1").inner_text() == "Waiting for Ann to let you in"
    return BrowserParty(context, page), errors


async def participant_id(server: Cobrowse, sid: str, name: str) -> str:
    listed = json.loads((await server.api("GET", f"/api/v1/sessions/{sid}/participants")).body)["participants"]
    return str(next(p["id"] for p in listed if p["name"] == name))


async def control_text(party: BrowserParty) -> str:
    text: str = await party.toolbar(".control").inner_text()
    return text


async def wait_control_text(party: BrowserParty, text: str) -> None:
    await party.page.wait_for_function(
        "(t) => { const ui = document.querySelector('cobrowse-ui');"
        " const c = ui && ui.shadowRoot && ui.shadowRoot.querySelector('.control'); return c && c.textContent === t; }",
        arg=text, timeout=WAIT_MS)


async def test_pin_then_approval_then_control_by_api_then_removal_in_chromium(
        browser: Browser, server: Cobrowse) -> None:
    created = await create(server, require_approval=True, consent=False)
    sid = created["id"]
    leader = await lead(browser, created)
    visitor, errors = await waiting_by_pin(browser, server, created, "Vic")
    vic = await participant_id(server, sid, "Vic")
    # Waiting: the agent's page does not list the visitor yet.
    assert vic not in {p["id"] for p in (await leader.status())["participants"]}
    approved = await server.api("POST", f"/api/v1/sessions/{sid}/participants/{vic}/approve")
    assert approved.status == 200
    await visitor.wait_connected()
    await visitor.wait_url(A)
    assert errors == [], errors  # the PIN, join and waiting pages logged nothing

    give = await server.api("POST", f"/api/v1/sessions/{sid}/control", {"participant": vic})
    assert give.status == 200 and json.loads(give.body)["action"] == "granted"
    await wait_control_text(visitor, "You are in control")
    await wait_control_text(leader, "In control: Vic")
    take = await server.api("POST", f"/api/v1/sessions/{sid}/control", {"participant": leader.id})
    assert take.status == 200 and json.loads(take.body)["action"] == "taken"
    await wait_control_text(leader, "You are in control")
    await wait_control_text(visitor, "In control: Ann")

    removed = await server.api("DELETE", f"/api/v1/sessions/{sid}/participants/{vic}")
    assert removed.status == 200
    await visitor.page.wait_for_function(
        "() => { const ui = document.querySelector('cobrowse-ui');"
        " const h = ui && ui.shadowRoot && ui.shadowRoot.querySelector('.ended h1');"
        " return h && h.textContent === 'You were removed from this session'; }", timeout=WAIT_MS)
    await leader.page.wait_for_function(
        "(id) => !window.__cbSync.status().participants.some((p) => p.id === id)", arg=vic, timeout=WAIT_MS)
    await visitor.page.reload()
    assert await visitor.page.locator("h1").inner_text() == "You were removed from this session"


async def test_a_declined_visitor_sees_it_on_the_waiting_page_by_itself(browser: Browser, server: Cobrowse) -> None:
    created = await create(server, require_approval=True)
    visitor, errors = await waiting_by_pin(browser, server, created, "Gus")
    gus = await participant_id(server, created["id"], "Gus")
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}/participants/{gus}")).status == 200
    await visitor.page.wait_for_function(
        "() => document.getElementById('title').textContent === 'You were not let in'"
        " && document.activeElement === document.getElementById('title')", timeout=WAIT_MS)
    assert "did not let you in" in await visitor.page.locator("#state").inner_text()
    assert errors == [], errors
