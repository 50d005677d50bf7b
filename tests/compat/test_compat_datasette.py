"""Datasette (PyPI ``datasette``): an SQL query page whose editor is CodeMirror, served by uvicorn.

The module writes a small SQLite database into a tmp dir and serves it with ``datasette serve``
on ``127.0.0.1`` port 0. The database page turns its ``<textarea>`` into a CodeMirror editor
(CodeMirror 5, bundled with Datasette). Feature: the query is typed into the editor key by key
(select all, Delete, then the text: CodeMirror takes commands from key events and text from a
hidden textarea it resets by script, so a follower gets it only as edits, see
docs/sync-protocol.md); co-browsed, the follower's editor must show the same text; then "Run SQL"
submits the form and the result table lists the planets with moons.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from compat_apps import AppSpec, python_module
from compat_fixture import modes_fixture, one_app
from compat_modes import Feature, Modes, Step, Tracker, check_mode, matrix
from playwright.async_api import Page

pytestmark = [pytest.mark.compat, pytest.mark.asyncio(loop_scope="module")]

HOST = "datasette.test"
PLANETS = (("Mercury", 0), ("Venus", 0), ("Earth", 1), ("Mars", 2))
QUERY = "select name from planets where moons > 0"


def _spec(root: Path) -> AppSpec:
    with sqlite3.connect(root / "compat.db") as db:
        db.execute("create table planets (name text, moons integer)")
        db.executemany("insert into planets values (?, ?)", PLANETS)
    db.close()
    return AppSpec("datasette", HOST,
                   python_module("datasette", "serve", str(root / "compat.db"), "-h", "127.0.0.1", "-p", "0"),
                   r"Uvicorn running on http://127\.0\.0\.1:(\d+)", ready_path="/-/versions.json",
                   icons=("/favicon.ico", "/favicon.png"))


async def _editor(page: Page, tracker: Tracker) -> str:
    shown: str = await page.evaluate(
        """() => {
          const cm = document.querySelector('.CodeMirror');
          return cm && cm.CodeMirror ? 'editor: ' + cm.CodeMirror.getValue() : '(no editor)';
        }""")
    return shown


async def _rows(page: Page, tracker: Tracker) -> str:
    names: list[str] = await page.evaluate(
        "() => [...document.querySelectorAll('table.rows-and-columns tbody td.col-name')]"
        ".map((e) => e.textContent.trim())")
    return "rows: " + ", ".join(names)


async def _type_query(page: Page) -> None:
    await page.click(".CodeMirror")
    await page.keyboard.press("Control+a")
    await page.keyboard.press("Delete")
    await page.keyboard.type(QUERY)


async def _run_sql(page: Page) -> None:
    await page.click("form.sql input[type=submit]")


EDITOR_READY = "() => !!(document.querySelector('.CodeMirror') || {}).CodeMirror"
TYPED_READY = f"() => (document.querySelector('.CodeMirror') || {{}}).CodeMirror?.getValue() === {QUERY!r}"
ROWS_READY = "() => document.querySelectorAll('table.rows-and-columns tbody tr').length > 0"

FEATURES = (
    Feature("datasette", "type in the SQL editor", "/compat", (
        Step("the query page", "/compat", "editor: select * from planets", ready=EDITOR_READY, observe=_editor),
        Step("a query typed into CodeMirror", "/compat", f"editor: {QUERY}", act=_type_query, ready=TYPED_READY,
             observe=_editor),
        Step("Run SQL", "/compat", "rows: Earth, Mars", act=_run_sql, ready=ROWS_READY, observe=_rows),
    )),
)

# (feature, mode) -> the cause found, for what fails today (strict: fixing it turns the test red).
KNOWN: dict[tuple[str, str], str] = {}


modes = modes_fixture("datasette", one_app(_spec), follower_wait=5.0)


@pytest.mark.parametrize(("feature", "mode"), matrix(FEATURES, KNOWN))
async def test_datasette_editor_feature_shows_the_direct_outcome_in_each_mode(modes: Modes, feature: Feature,
                                                                              mode: str) -> None:
    await check_mode(modes, feature, mode)
