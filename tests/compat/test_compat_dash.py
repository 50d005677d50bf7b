"""A Dash app (PyPI ``dash``, Plotly's React framework) with client-side routing, served by gunicorn.

The module writes a three-route app into a tmp dir: ``dcc.Location`` holds the URL, ``dcc.Link``
navigates with ``history.pushState`` (no document load), and a callback (a JSON POST to
``/_dash-update-component``) renders the route's page; Dash answers any path with the same
index, so a deep route loads and reloads as the entry point. Dash serves its own React bundles
from the package (nothing from the internet). Features: links move between routes in the same
document (a global set on the first page survives); a deep route opens and reloads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from compat_apps import GUNICORN_PORT, AppSpec, gunicorn
from compat_fixture import modes_fixture, one_app
from compat_modes import Act, Feature, Modes, Step, Tracker, check_mode, matrix
from playwright.async_api import Page

pytestmark = [pytest.mark.compat, pytest.mark.asyncio(loop_scope="module")]

HOST = "dash.test"
APP = '''
from dash import Dash, Input, Output, dcc, html

PAGES = {
    "/": "Home",
    "/planets": "Planets: Mercury, Venus, Earth, Mars",
    "/planets/mars": "Mars, the fourth planet",
}

app = Dash(__name__, title="Compat router")
app.layout = html.Div([
    dcc.Location(id="url"),
    html.Nav([
        dcc.Link("Home", href="/", id="to-home"), " ",
        dcc.Link("Planets", href="/planets", id="to-planets"), " ",
        dcc.Link("Mars", href="/planets/mars", id="to-mars"),
    ]),
    html.Div(id="page"),
])


@app.callback(Output("page", "children"), Input("url", "pathname"))
def show(pathname):
    return html.H1(PAGES.get(pathname, "Not found"), id="title")


server = app.server
'''


def _spec(root: Path) -> AppSpec:
    (root / "compat_router.py").write_text(APP)
    return AppSpec("dash", HOST, gunicorn("compat_router:server", ("--chdir", str(root))), GUNICORN_PORT,
                   icons=("/favicon.ico", "/_favicon.ico"), random_query=("/_dash-update-component",))


async def _shown(page: Page, tracker: Tracker) -> str:
    shown: str = await page.evaluate(
        """() => {
          const title = document.getElementById('title');
          const same = window.__compatMarker === 'kept' ? 'same document' : 'new document';
          return [title ? title.textContent : '(no title)', same].join(' | ');
        }""")
    return shown


def _follow(link: str) -> Act:
    async def act(page: Page) -> None:
        await page.evaluate("() => { window.__compatMarker = window.__compatMarker || 'kept'; }")
        await page.click(f"#{link}")

    return act


async def _reload(page: Page) -> None:
    await page.reload()


def _title(text: str) -> str:
    return f"() => (document.getElementById('title') || {{}}).textContent === {text!r}"


FEATURES = (
    Feature("dash", "routes via links", "/", (
        Step("home", "/", "Home | new document", ready=_title("Home"), observe=_shown),
        Step("Planets link", "/planets", "Planets: Mercury, Venus, Earth, Mars | same document",
             act=_follow("to-planets"), ready=_title("Planets: Mercury, Venus, Earth, Mars"), observe=_shown),
        Step("Mars link", "/planets/mars", "Mars, the fourth planet | same document", act=_follow("to-mars"),
             ready=_title("Mars, the fourth planet"), observe=_shown),
        Step("Home link", "/", "Home | same document", act=_follow("to-home"), ready=_title("Home"),
             observe=_shown),
    )),
    Feature("dash", "reload on a deep route", "/", (
        Step("home", "/", "Home | new document", ready=_title("Home"), observe=_shown),
        Step("Mars link", "/planets/mars", "Mars, the fourth planet | same document", act=_follow("to-mars"),
             ready=_title("Mars, the fourth planet"), observe=_shown),
        Step("reload", "/planets/mars", "Mars, the fourth planet | new document", act=_reload,
             ready=_title("Mars, the fourth planet"), observe=_shown),
    )),
)

KNOWN: dict[tuple[str, str], str] = {}
# No intermittent entries: the failures once seen on a loaded machine came from gunicorn timing out
# kept-alive connections as requests arrived (fixed in counting_front.py and proxy/upstream.py).

modes = modes_fixture("dash", one_app(_spec), follower_wait=5.0)


@pytest.mark.parametrize(("feature", "mode"), matrix(FEATURES, KNOWN))
async def test_dash_router_feature_shows_the_direct_outcome_in_each_mode(modes: Modes, feature: Feature,
                                                                         mode: str) -> None:
    await check_mode(modes, feature, mode)
