"""Co-browsing in real Chromium: a leader and followers in separate browser contexts stay in step.

Each test drives the leader (and, after a control hand-over, the follower) with real input through
Playwright, waits for the other side to show the same thing, compares the two documents (normalised
body, toolbar aside) and, where it matters, counts the requests the target servers saw: the
follower must never add any.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser
from world.harness import Cobrowse, StartCobrowse
from world.party import BrowserParty as Party
from world.party import SocketCutter, bodies_equal, join_follower, open_party, point_and_see, start_pair
from world.sync_sites import document_hits
from world.targets import World

A = "http://sync-a.test/"


@pytest.fixture
async def server(sync_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=sync_world.resolve_overrides())


async def assert_same_document(leader: Party, follower: Party) -> None:
    left, right = await bodies_equal(leader, follower)
    assert left == right


async def test_follower_follows_leader_across_pages_and_origins_without_fetching(
        browser: Browser, server: Cobrowse, sync_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    await assert_same_document(leader, follower)

    await leader.page.click("#to-two")
    await leader.wait_url("http://sync-a.test/two")
    await follower.wait_url("http://sync-a.test/two")
    await assert_same_document(leader, follower)

    await leader.page.click("#to-b")
    await leader.wait_url("http://sync-b.test/")
    await follower.wait_url("http://sync-b.test/")
    await assert_same_document(leader, follower)

    # Every document was fetched from its target once: the follower's came from the store.
    hits = document_hits(sync_world.log)
    assert hits == [("sync-a.test", "GET", "/"), ("sync-a.test", "GET", "/two"), ("sync-b.test", "GET", "/")]


async def test_spa_pushstate_routes_are_followed_without_a_document_load(
        browser: Browser, server: Cobrowse, sync_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, A + "spa")
    await leader.page.click("#r-one")
    await follower.wait_url("http://sync-a.test/spa/one")
    await follower.wait_js("() => document.getElementById('view').textContent === 'view of /spa/one'")
    await leader.page.click("#r-two")
    await follower.wait_url("http://sync-a.test/spa/two")
    await assert_same_document(leader, follower)
    await leader.page.go_back()
    await follower.wait_url("http://sync-a.test/spa/one")
    await assert_same_document(leader, follower)
    assert document_hits(sync_world.log) == [("sync-a.test", "GET", "/spa")]


async def test_leader_input_of_every_kind_appears_in_follower_fields(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    lp = leader.page
    await lp.click("#name")
    await lp.keyboard.type("Ann Example")
    await lp.fill("#notes", "two\nlines")
    await lp.select_option("#colour", "blue")
    await lp.check("#agree")
    await lp.check("#size-l")
    await lp.focus("#level")
    await lp.keyboard.press("ArrowRight")
    await lp.fill("#day", "2024-05-17")
    await lp.fill("#secret", "hunter2")
    await lp.click("#rich")
    await lp.keyboard.press("End")
    await lp.keyboard.type(" now")

    fp = follower.page
    await follower.wait_js("() => document.getElementById('day').value === '2024-05-17'")
    await follower.wait_js("() => document.getElementById('rich').textContent === 'edit me now'")
    got = await fp.evaluate("""() => ({
        name: document.getElementById('name').value, notes: document.getElementById('notes').value,
        colour: document.getElementById('colour').value, agree: document.getElementById('agree').checked,
        large: document.getElementById('size-l').checked, small: document.getElementById('size-s').checked,
        level: document.getElementById('level').value, secret: document.getElementById('secret').value })""")
    assert got == {"name": "Ann Example", "notes": "two\nlines", "colour": "blue", "agree": True, "large": True,
                   "small": False, "level": "6", "secret": ""}


async def test_form_posted_by_leader_shows_result_to_follower_with_one_post_at_target(
        browser: Browser, server: Cobrowse, sync_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    await leader.page.fill("#name", "Ann")
    await follower.wait_js("() => document.getElementById('name').value === 'Ann'")
    await leader.page.click("#send")
    await leader.wait_url("http://sync-a.test/submit")
    await follower.wait_url("http://sync-a.test/submit")
    await follower.wait_js("() => document.getElementById('posted') !== null")
    await assert_same_document(leader, follower)
    posts = [h for h in sync_world.log if h.method == "POST"]
    assert len(posts) == 1


async def test_keys_the_page_listens_for_are_replayed(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    await leader.page.click("#title")
    await leader.page.keyboard.press("k")
    await leader.page.keyboard.press("k")
    await follower.wait_js("() => document.getElementById('keys').textContent === 'keys: k k'")
    await assert_same_document(leader, follower)


async def test_nested_scroll_box_lines_up_on_different_window_sizes(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A, leader_size=(1280, 800),
                                                 follower_size=(760, 600))
    top_item = """() => { const box = document.getElementById('box'); const r = box.getBoundingClientRect();
        for (const dy of [3, 9]) { const el = document.elementFromPoint(r.left + r.width / 2, r.top + dy);
        const li = el && el.closest('li'); if (li) return li.id; } return null; }"""
    await leader.page.evaluate("() => document.getElementById('box').scrollIntoView()")
    await leader.page.hover("#box")
    for _ in range(6):
        await leader.page.mouse.wheel(0, 300)
    await leader.page.wait_for_timeout(300)
    wanted = await leader.page.evaluate(top_item)
    assert wanted and wanted != "item-1"
    await follower.wait_js(f"() => ({top_item})() === {wanted!r}")
    # The boxes are not at the same offset (the text wraps differently): the anchor did it.
    offsets = [await p.page.evaluate("() => document.getElementById('box').scrollTop") for p in (leader, follower)]
    assert offsets[0] != offsets[1]


async def test_window_scroll_is_anchored_to_the_same_paragraph(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A, leader_size=(1280, 800),
                                                 follower_size=(760, 600))
    top_para = """() => { for (const y of [2, 12, 30]) { const el = document.elementFromPoint(40, y);
        const p = el && el.closest('p'); if (p) return p.id; } return null; }"""
    await leader.page.evaluate("() => document.getElementById('para-30').scrollIntoView()")
    wanted = await leader.page.evaluate(top_para)
    assert wanted == "para-30"
    await follower.wait_js(f"() => ({top_para})() === {wanted!r}")


async def test_control_handed_to_follower_who_types_and_leader_sees_it(
        browser: Browser, server: Cobrowse) -> None:
    created, leader, follower = await start_pair(browser, server, A)
    await follower.toolbar("button[data-action=request]").click()
    await leader.wait_js("(id) => window.__cbSync.status().controller !== id", arg=follower.id)  # unchanged
    await leader.toolbar(f"button[data-action=grant][data-to='{follower.id}']").click()
    await follower.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)
    await leader.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)

    await follower.page.click("#name")
    await follower.page.keyboard.type("typed by Vic")
    await leader.wait_js("() => document.getElementById('name').value === 'typed by Vic'")

    # The leader's own typing is no longer sent: the follower's field keeps its value.
    await leader.page.fill("#notes", "leader typing while not in control")
    await follower.page.wait_for_timeout(500)
    assert await follower.page.evaluate("() => document.getElementById('notes').value") == ""

    # The visitor drives: taking control asks the visitor first (consent), who declines once...
    await leader.toolbar("button[data-action=take][data-asks]").click()
    await follower.toolbar("button[data-action=decline]").click()
    await leader.wait_js("() => !document.querySelector('cobrowse-ui').shadowRoot.querySelector('.ask')")
    assert await leader.page.evaluate("() => window.__cbSync.status().controller") == follower.id
    # ... then allows it.
    await leader.toolbar("button[data-action=take][data-asks]").click()
    await follower.toolbar(f"button[data-action=grant][data-to='{leader.id}']").click()
    await follower.wait_js("(id) => window.__cbSync.status().controller === id", arg=leader.id)
    await leader.wait_js("(id) => window.__cbSync.status().controller === id", arg=leader.id)

    # Control moving kept the page's state: a late joiner still gets what the visitor typed.
    late = await join_follower(browser, created, name="Zoe")
    await late.wait_url(A)
    await late.wait_js("() => document.getElementById('name').value === 'typed by Vic'")


async def test_late_joiner_lands_on_leaders_page_with_values_and_scroll(browser: Browser, server: Cobrowse) -> None:
    created = await server.create_session(A)
    leader = await open_party(browser, created["leader_url"])
    await leader.wait_connected()
    await leader.page.click("#to-two")
    await leader.wait_url("http://sync-a.test/two")
    await leader.page.go_back()
    await leader.wait_url(A)
    await leader.page.fill("#name", "filled before you came")
    await leader.page.check("#agree")
    await leader.page.evaluate("() => document.getElementById('para-20').scrollIntoView()")
    await leader.page.wait_for_timeout(300)

    follower = await join_follower(browser, created)
    await follower.wait_url(A)
    await follower.wait_js("() => document.getElementById('name').value === 'filled before you came'")
    await follower.wait_js("() => document.getElementById('agree').checked")
    await follower.wait_js("""() => { const el = document.elementFromPoint(40, 4);
        return !!el && !!el.closest('#para-20'); }""")


async def test_storage_written_by_leader_is_replayed_to_follower(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A + "storage")
    await leader.page.click("#write")
    await follower.wait_js("() => localStorage.getItem('cart') === 'apples'")


async def test_leader_ending_the_session_shows_the_end_to_everyone(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    await leader.toolbar("button[data-action=end]").click()
    for party in (leader, follower):
        await party.wait_js("() => window.__cbSync.status().status === 'ended'")
        overlay = party.toolbar(".ended h1")
        assert await overlay.text_content() == "The session has ended"


async def test_remote_pointer_of_the_follower_is_shown_to_the_leader(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A)
    await point_and_see(follower, leader)
    label = await leader.toolbar(f".cursor[data-id='{follower.id}'] span").text_content()
    assert label == "Vic"


async def test_follower_socket_dropped_mid_session_misses_nothing_and_applies_nothing_twice(
        browser: Browser, server: Cobrowse) -> None:
    created = await server.create_session(A)
    leader = await open_party(browser, created["leader_url"])
    await leader.wait_connected()
    cut = SocketCutter()
    follower = await join_follower(browser, created, before=cut.install)
    await follower.wait_url(A)
    await leader.page.click("#title")
    await leader.page.keyboard.press("k")
    await follower.wait_js("() => document.getElementById('keys').textContent === 'keys: k'")

    await cut.drop()  # the follower's socket dies; it cannot reconnect until restored
    await follower.wait_js("() => window.__cbSync.status().status === 'reconnecting'")
    await leader.page.keyboard.press("k")
    await leader.page.keyboard.press("k")
    await leader.page.fill("#name", "typed while you were away")
    cut.restore()

    await follower.wait_js("() => document.getElementById('name').value === 'typed while you were away'")
    await follower.wait_js("() => window.__cbSync.status().status === 'connected'")
    assert await follower.page.evaluate("() => document.getElementById('keys').textContent") == "keys: k k k"
    assert cut.connections >= 2
    await assert_same_document(leader, follower)


async def test_drifted_follower_reloads_from_the_store_and_matches_again(
        browser: Browser, start_server: StartCobrowse, sync_world: World) -> None:
    server = await start_server(resolve_overrides=sync_world.resolve_overrides(), follower_wait=1.0)
    _, leader, follower = await start_pair(browser, server, A + "two")
    await follower.page.evaluate("() => { document.getElementById('title').textContent = 'tampered'; }")
    await follower.page.wait_for_event("load", timeout=30_000)
    await follower.wait_url(A + "two")
    await assert_same_document(leader, follower)
    assert [h.path for h in sync_world.log if h.path != "/favicon.ico"] == ["/two"]


async def test_window_opened_by_leaders_page_opens_for_follower_too(browser: Browser, server: Cobrowse) -> None:
    _, leader, follower = await start_pair(browser, server, A + "storage")
    async with follower.context.expect_page() as follower_popup, leader.context.expect_page() as leader_popup:
        await leader.page.click("#open")
    opened = [await leader_popup.value, await follower_popup.value]
    for page in opened:
        await page.wait_for_function("() => window.__cbRuntime && window.__cbRuntime.realHref() === "
                                     "'http://sync-a.test/two'", timeout=15_000)
    windows = [await page.evaluate("() => window.__cbSync.status().window") for page in opened]
    assert windows[0] == windows[1] != "main"
    # The replayed click opened it on the follower; the window message then found it open.
    await follower.page.wait_for_timeout(1000)
    assert len(follower.context.pages) == 2
