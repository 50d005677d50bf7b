"""Co-browsing editors that draw their own text: what the leader types shows in the follower's editor.

The editors are real (CodeMirror 5 as the installed Datasette package bundles it) or follow the
real ones' input model (a contenteditable whose script takes every edit from ``beforeinput``, as
Lexical, Slate and ProseMirror do; world/editor_sites.py). The leader types with real keys through
Playwright, commands included (select all, delete, Enter, Backspace, arrows); the follower's
editor must end with the same document, read from the editor's own model, not from its DOM.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser
from world.editor_sites import EDITOR_APPS
from world.harness import Cobrowse, StartCobrowse
from world.party import BrowserParty, start_pair
from world.targets import ServeWorld, World

CM5 = "http://editors.test/cm5"
RICH = "http://editors.test/rich"
CONTEXT = "http://editors.test/context"
CM5_VALUE = "() => document.querySelector('.CodeMirror').CodeMirror.getValue()"


@pytest.fixture
async def editor_world(serve_world: ServeWorld) -> World:
    return await serve_world(EDITOR_APPS)


@pytest.fixture
async def server(editor_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=editor_world.resolve_overrides())


Script = tuple[tuple[str, str], ...]  # (what, text): "type" keys, "press" one key (chord), "insert" text with no keys


async def shows(party: BrowserParty, expression: str, want: object) -> None:
    """Wait until ``expression`` gives ``want`` on the party's page (JSON-equal)."""
    await party.wait_js(f"(want) => JSON.stringify(({expression})()) === JSON.stringify(want)", want)


async def leader_edits(browser: Browser, server: Cobrowse, url: str, click: str, script: Script, read: str,
                       want: object) -> tuple[BrowserParty, BrowserParty]:
    """The leader clicks ``click`` and plays ``script``; ``read`` gives ``want`` on both sides."""
    _, leader, follower = await start_pair(browser, server, url)
    keyboard = leader.page.keyboard
    play = {"type": keyboard.type, "press": keyboard.press, "insert": keyboard.insert_text}
    await leader.page.click(click)
    for what, text in script:
        await play[what](text)
    await shows(leader, read, want)
    await shows(follower, read, want)
    return leader, follower


async def test_codemirror5_text_and_commands_typed_by_the_leader_reach_the_follower_editor(
        browser: Browser, server: Cobrowse) -> None:
    script = (("press", "Control+a"), ("press", "Delete"), ("type", "select 1"), ("press", "Enter"),
              ("type", "from t;"), ("press", "Backspace"), ("press", "ArrowLeft"), ("type", "(x)"),
              ("insert", " pasted "),  # no key events: only the hidden textarea's value changes
              ("press", "Home"), ("press", "Shift+End"), ("type", "Z"))
    await leader_edits(browser, server, CM5, ".CodeMirror", script, CM5_VALUE, "select 1\nZ")


async def test_codemirror5_follower_keeps_its_text_when_the_leader_moves_the_caret_only(
        browser: Browser, server: Cobrowse) -> None:
    # CodeMirror resets its hidden textarea by script on every caret move: the follower's editor
    # must not read those resets as deletions.
    script = (("press", "Control+End"), ("type", " limit 5"), ("press", "Home"), ("press", "End"),
              ("press", "ArrowLeft"), ("press", "ArrowLeft"), ("press", "Control+Home"), ("type", "-- "))
    await leader_edits(browser, server, CM5, ".CodeMirror", script, CM5_VALUE, "-- select * from planets limit 5")


async def test_contenteditable_typing_lands_at_the_leaders_caret_on_the_follower_as_typed_edits(
        browser: Browser, server: Cobrowse) -> None:
    script = (("press", "End"), ("type", " and more"), ("press", "Shift+Enter"), ("type", "x"), ("press", "Enter"),
              ("press", "Backspace"), ("type", "y"))
    text = "() => document.getElementById('doc').textContent"
    leader, follower = await leader_edits(browser, server, RICH, "#doc p", script, text, "first line and morexy")
    # Each key came to the follower as the edit typing made on the leader (an editor reading the DOM
    # back goes by it).
    typed = ["insertText"] * len(" and more") + ["insertLineBreak", "insertText", "insertParagraph",
                                                 "deleteContentBackward", "insertText"]
    for party in (leader, follower):
        await shows(party, "() => window.inputTypes", typed)


async def test_editor_that_takes_every_edit_from_beforeinput_gets_the_leaders_edits_on_the_follower(
        browser: Browser, server: Cobrowse) -> None:
    script = (("press", "End"), ("type", " one"), ("press", "Enter"), ("type", "twoo"), ("press", "Backspace"))
    await leader_edits(browser, server, RICH, "#model", script, "() => window.paragraphs", ["model one", "two"])


async def test_editor_on_an_edit_context_gets_the_leaders_text_updates_on_the_follower(
        browser: Browser, server: Cobrowse) -> None:
    script = (("type", " one"), ("press", "Backspace"), ("type", "ly"))
    await leader_edits(browser, server, CONTEXT, "#ctx", script, "() => window.model", "context only")


async def test_follower_that_lost_focus_still_takes_the_leaders_keys_in_the_leaders_field(
        browser: Browser, server: Cobrowse) -> None:
    # The visitor clicked elsewhere (or its page built the editor after the `focus` message came):
    # a key goes to the controller's focused field, so the follower's field takes focus for it.
    _, leader, follower = await start_pair(browser, server, CONTEXT)
    await leader.page.click("#ctx")
    focused = "() => document.activeElement.id"
    await shows(follower, focused, "ctx")
    await follower.page.evaluate("() => document.activeElement.blur()")
    await shows(follower, focused, "")
    await leader.page.keyboard.type(" x")
    await shows(leader, "() => window.model", "context x")
    await shows(follower, "() => window.model", "context x")
