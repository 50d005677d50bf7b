"""httpbin (PyPI ``httpbin``, served by gunicorn): redirects, cookies, status codes, a form, basic auth.

Each feature runs directly, through the proxy alone and co-browsed (``compat_modes``); the app
starts once for the module. httpbin echoes what it received, so each JSON outcome keeps only
the fields that a correct proxy leaves as the browser would have them (the URL, the query, the
cookies, the form): the request headers differ by design (the proxy's own client sends them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from compat_apps import GUNICORN_PORT, AppSpec, RunningApp, gunicorn, start_app
from compat_modes import Feature, Modes, Step, check_mode, json_fields, matrix, open_modes, status_and_text
from playwright.async_api import Page

pytestmark = [pytest.mark.compat, pytest.mark.asyncio(loop_scope="module")]

# httpbin_app: httpbin under Werkzeug 3 (see its docstring); gunicorn imports it from this directory.
HTTPBIN = AppSpec("httpbin", "httpbin.test", gunicorn("httpbin_app:app", ("--chdir", str(Path(__file__).parent))),
                  GUNICORN_PORT, ready_path="/get")


async def _order_pizza(page: Page) -> None:
    await page.fill("input[name=custname]", "Ann Example")
    await page.fill("input[name=custtel]", "0123 456")
    await page.check("input[name=size][value=medium]")
    await page.check("input[name=topping][value=bacon]")
    await page.check("input[name=topping][value=onion]")
    await page.fill("textarea[name=comments]", "ring twice")
    await page.click("button")


FORM_FILLED = ('{"comments": "ring twice", "custemail": "", "custname": "Ann Example", "custtel": "0123 456", '
               '"delivery": "", "size": "medium", "topping": ["bacon", "onion"]}')


def go(path: str) -> Callable[[Page], Awaitable[None]]:
    """Navigate as the page itself would (``location.assign``), relative to wherever it is."""

    async def act(page: Page) -> None:
        await page.evaluate("(p) => location.assign(p)", path)

    return act

FEATURES = (
    Feature("httpbin", "redirect chain", "/redirect/3", (
        Step("three redirects land on /get", "/get", '"url": "http://httpbin.test/get"',
             observe=json_fields("url", "args")),
    ), reaches=("/redirect/3", "/relative-redirect/2", "/relative-redirect/1", "/get")),
    Feature("httpbin", "absolute redirects", "/absolute-redirect/2", (
        Step("two absolute Location headers land on /get", "/get", '"url": "http://httpbin.test/get"',
             observe=json_fields("url", "args")),
    ), reaches=("/absolute-redirect/2", "/absolute-redirect/1", "/get")),
    Feature("httpbin", "cookies", "/cookies/set?k=v", (
        Step("set k=v, redirected to /cookies", "/cookies", '{"cookies": {"k": "v"}}',
             observe=json_fields("cookies")),
    )),
    Feature("httpbin", "cookies read back", "/cookies/set?k=v", (
        Step("set k=v, redirected to /cookies", "/cookies", '{"cookies": {"k": "v"}}',
             observe=json_fields("cookies")),
        Step("/cookies asked again", "/cookies", '{"cookies": {"k": "v"}}', act=go("/cookies?again=1"),
             ready="() => location.search === '?again=1'", observe=json_fields("cookies")),
    )),
    Feature("httpbin", "status 418", "/status/418", (
        Step("the teapot is shown", "/status/418", "HTTP 418\n-=[ teapot ]=-", observe=status_and_text),
    )),
    Feature("httpbin", "status 404", "/status/404", (
        Step("an empty 404", "/status/404", "HTTP 404", observe=status_and_text),
    )),
    Feature("httpbin", "form post", "/forms/post", (
        Step("the form", "/forms/post", "Customer name:", ready="() => !!document.querySelector('form')"),
        Step("submitted", "/post", FORM_FILLED, act=_order_pizza, observe=json_fields("form", "url")),
    )),
    Feature("httpbin", "basic auth", "/basic-auth/user/passwd", (
        Step("authenticated", "/basic-auth/user/passwd", '{"authenticated": true, "user": "user"}',
             observe=json_fields("authenticated", "user")),
    ), credentials=("user", "passwd")),
)

# (feature, mode) -> the cause found, for what fails today (strict: fixing it turns the test red).
KNOWN: dict[tuple[str, str], str] = {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def httpbin() -> AsyncIterator[RunningApp]:
    app = await start_app(HTTPBIN)
    try:
        yield app
    finally:
        await app.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def modes(httpbin: RunningApp) -> AsyncIterator[Modes]:
    async with open_modes(httpbin, follower_wait=5.0) as opened:
        yield opened


@pytest.mark.parametrize(("feature", "mode"), matrix(FEATURES, KNOWN))
async def test_httpbin_feature_shows_the_direct_outcome_in_each_mode(modes: Modes, feature: Feature,
                                                                      mode: str) -> None:
    await check_mode(modes, feature, mode)
