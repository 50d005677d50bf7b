"""A site built with mkdocs-material (PyPI ``mkdocs-material``), served as static files.

The module writes a two-page docs dir into a tmp dir, builds it with ``mkdocs build`` (theme
``material``, ``navigation.instant``, the search plugin; web fonts off, so the site loads nothing
from the internet) and serves the built site with Python's ``http.server``. Each feature runs
directly, through the proxy alone and co-browsed (``compat_modes``): the page loads and its
bundle runs; search (lunr in a Web Worker, fed by ``search/search_index.json``) finds a word;
a link followed with instant navigation (the bundle fetches the page and swaps it in, with no
document load: a global set before the click survives).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest
from compat_apps import AppSpec, RunningApp, python_module
from compat_fixture import modes_fixture, started
from compat_modes import Feature, Modes, Step, Tracker, check_mode, matrix
from playwright.async_api import Page

pytestmark = [pytest.mark.compat, pytest.mark.asyncio(loop_scope="module")]

HOST = "docs.test"
SITE_MTIME = 946_684_800  # 2000-01-01
MKDOCS_YML = f"""site_name: Compat docs
site_url: http://{HOST}/
theme:
  name: material
  font: false
  features:
    - navigation.instant
plugins:
  - search
"""
PAGES = {
    "index.md": "# Compat docs\n\nWelcome to the compatibility site. Read the [guide](guide.md).\n\n"
                "## Pineapple\n\nA section about pineapple.\n",
    "guide.md": "# Guide\n\nThe guide mentions pineapple once.\n",
}


async def _build(root: Path) -> Path:
    (root / "docs").mkdir()
    (root / "mkdocs.yml").write_text(MKDOCS_YML)
    for name, text in PAGES.items():
        (root / "docs" / name).write_text(text)
    build = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", "site", cwd=root,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await build.communicate()
    assert build.returncode == 0, f"mkdocs build failed:\n{output.decode(errors='replace')}"
    # http.server sends each file's mtime as Last-Modified, and Chromium's heuristic freshness is
    # a tenth of its age: files built seconds ago go stale mid-visit, so whether a page is asked
    # for again would depend on timing. An old mtime (as a deployed site has) keeps them fresh.
    for path in (root / "site").rglob("*"):
        os.utime(path, (SITE_MTIME, SITE_MTIME))
    return root / "site"


async def _page_shown(page: Page, tracker: Tracker) -> str:
    shown: str = await page.evaluate(
        """() => {
          const h1 = document.querySelector('.md-content h1');
          const bundle = typeof window.document$ !== 'undefined' ? 'bundle ran' : 'bundle did not run';
          const instant = window.__compatMarker === 'kept' ? 'same document' : 'new document';
          return [h1 ? h1.textContent : '(no h1)', bundle, instant].join(' | ');
        }""")
    return shown


async def _results(page: Page, tracker: Tracker) -> str:
    shown: str = await page.evaluate(
        """() => {
          const meta = document.querySelector('.md-search-result__meta');
          const titles = [...document.querySelectorAll('.md-search-result__item h1, .md-search-result__item h2')]
            .map((e) => e.textContent.trim());
          return [meta ? meta.textContent : '(no meta)', ...titles].join(' | ');
        }""")
    return shown


async def _search(page: Page) -> None:
    await page.click("label.md-search__icon, .md-search__input")
    # Key by key: the search listens to key events, which ``fill`` does not send.
    await page.locator("input.md-search__input").press_sequentially("pineapple")


async def _follow_guide_link(page: Page) -> None:
    await page.evaluate("() => { window.__compatMarker = 'kept'; }")
    # The bundle makes the site's links absolute (instant navigation): match the end.
    await page.click(".md-content a[href$='guide/']")


async def _back(page: Page) -> None:
    await page.go_back()


LOADED = "() => typeof window.document$ !== 'undefined' && !!document.querySelector('.md-content h1')"

FEATURES = (
    Feature("mkdocs-material", "page load", "/", (
        Step("home page", "/", "Compat docs | bundle ran", ready=LOADED, observe=_page_shown),
    )),
    Feature("mkdocs-material", "search in a worker", "/", (
        Step("home page", "/", "Compat docs | bundle ran", ready=LOADED, observe=_page_shown),
        Step("search pineapple", "/", "2 matching documents", act=_search,
             ready="() => document.querySelectorAll('.md-search-result__item').length > 0", observe=_results),
    ), reaches=("/search/search_index.json",)),
    Feature("mkdocs-material", "instant navigation", "/", (
        Step("home page", "/", "Compat docs | bundle ran", ready=LOADED, observe=_page_shown),
        Step("guide link", "/guide/", "Guide | bundle ran | same document", act=_follow_guide_link,
             ready="() => (document.querySelector('.md-content h1') || {}).textContent === 'Guide'",
             observe=_page_shown),
        Step("history back", "/", "Compat docs | bundle ran | same document", act=_back,
             ready="() => (document.querySelector('.md-content h1') || {}).textContent === 'Compat docs'",
             observe=_page_shown),
    )),
)

KNOWN: dict[tuple[str, str], str] = {}


async def _start(root: Path, stack: contextlib.AsyncExitStack) -> tuple[RunningApp, ...]:
    site = await _build(root)
    spec = AppSpec("mkdocs-material", HOST,
                   python_module("http.server", "0", "--bind", "127.0.0.1", "--directory", str(site)),
                   r"Serving HTTP on 127\.0\.0\.1 port (\d+)")
    return (await started(stack, spec),)


modes = modes_fixture("mkdocs", _start, follower_wait=5.0)


@pytest.mark.parametrize(("feature", "mode"), matrix(FEATURES, KNOWN))
async def test_mkdocs_material_feature_shows_the_direct_outcome_in_each_mode(modes: Modes, feature: Feature,
                                                                             mode: str) -> None:
    await check_mode(modes, feature, mode)
