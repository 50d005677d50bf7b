"""Issue 8, item 5: ``GET /api/v1/sessions/{id}/timeline`` and the console page that draws it.

A session of the fixture world (scripted leader and follower: the leader's pages go upstream,
the follower's come from the store, one request fails with 404) is read back as a timeline,
through the API and drawn by the console's timeline page in Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from world import World
from world.harness import API_KEY, Cobrowse, StartCobrowse
from world.sync_client import join, lead
from world.until import until

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


async def timeline_of(server: Cobrowse, sid: str, ready: Any, query: str = "") -> dict[str, Any]:
    """The timeline once ``ready(timeline)`` holds (the writer flushes at least once a second)."""
    async def shown() -> dict[str, Any] | None:
        reply = await server.api("GET", f"/api/v1/sessions/{sid}/timeline{query}")
        assert reply.status == 200, reply.text
        got: dict[str, Any] = json.loads(reply.body)
        return got if ready(got) else None

    return await until(shown, "the timeline shows what was asked")


def requests(t: dict[str, Any], path: str) -> int:
    return sum(row[path] for row in t["traffic"]["buckets"])


@pytest.fixture
async def story(world: World, start_server: StartCobrowse, tmp_path: Path) -> tuple[Cobrowse, str]:
    server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
    created = await server.create_session("http://site-a.test/")
    sid = created["id"]
    leader = await lead(server, created)
    follower = await join(server, created, "Vic")
    for party, path in ((leader, "/"), (leader, "/no-such-page"), (follower, "/")):
        await server.request("GET", server.proxy_url(sid, "site-a.test", path), cookies=party.cookies,
                             headers=NAVIGATE)
    return server, sid


async def test_timeline_tells_who_was_there_where_pages_went_and_what_failed(story: tuple[Cobrowse, str]) -> None:
    server, sid = story
    t = await timeline_of(server, sid, lambda t: requests(t, "store") >= 1 and t["errors"])
    assert t["session"] == sid and t["live"] is True and t["broken"] == ""
    assert [(p["role"], p["name"]) for p in t["participants"]] == [("leader", "Ann"), ("follower", "Vic")]
    assert all(len(p["spans"]) == 1 and p["spans"][0][1] is None for p in t["participants"])
    leader_id = t["participants"][0]["id"]
    assert t["control"] == [[leader_id, t["control"][0][1], None]]
    assert {n["url"] for n in t["navigations"]} >= {"http://site-a.test/"}
    assert requests(t, "upstream") >= 2 and requests(t, "store") >= 1
    assert [(e["status"], e["url"]) for e in t["errors"]] == [(404, "http://site-a.test/no-such-page")]

    await server.api("DELETE", f"/api/v1/sessions/{sid}")
    ended = await timeline_of(server, sid, lambda t: any(e["name"] == "ended" for e in t["events"]), "?buckets=7")
    assert ended["live"] is False and len(ended["traffic"]["buckets"]) == 7
    assert all(p["spans"][-1][1] is not None for p in ended["participants"])


async def test_timeline_refuses_without_a_key_bad_buckets_and_unknown_sessions(
        story: tuple[Cobrowse, str]) -> None:
    server, sid = story
    assert (await server.api("GET", f"/api/v1/sessions/{sid}/timeline", key=None)).status == 401
    bad = await server.api("GET", f"/api/v1/sessions/{sid}/timeline?buckets=0")
    assert bad.status == 400 and "buckets" in json.loads(bad.body)["error"]
    assert (await server.api("GET", "/api/v1/sessions/zzzzzzzzzz/timeline")).status == 404
    assert (await server.api("GET", "/api/v1/sessions/..%2f..%2fetc/timeline")).status == 404


async def test_console_timeline_page_draws_lanes_traffic_and_errors(
        browser: Browser, story: tuple[Cobrowse, str]) -> None:
    server, sid = story
    await timeline_of(server, sid, lambda t: requests(t, "store") >= 1 and t["errors"])
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.control}/timeline/{sid}#key={API_KEY}")
    await page.wait_for_function("() => !document.getElementById('out').hidden")
    drawn = await page.evaluate("""() => ({
        lanes: [...document.querySelectorAll('#chart text')].map((t) => t.textContent)
          .filter((t) => / \\((leader|follower)\\)$/.test(t)),
        bars: document.querySelectorAll('#chart rect').length,
        errors: document.querySelectorAll('#chart circle').length,
        summary: document.getElementById('summary').innerText,
        keyInUrl: location.href.includes('key='),
    })""")
    await context.close()
    assert drawn["lanes"] == ["Ann (leader)", "Vic (follower)"]
    assert drawn["bars"] >= 4 and drawn["errors"] == 1
    assert "participants" in drawn["summary"] and not drawn["keyInUrl"]
