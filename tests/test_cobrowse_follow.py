"""Co-browsed apps stay in step: followers follow the leader's navigation, never resubmit its forms,
and get each page's subresources from the leader's copies for that same page (issue 7, item 5).

One small target site (``follow.test``, real aiohttp on loopback, every request in a ``HitLog``):
- ``/login`` a form with a masked password field, posting to ``/login``: the right password gets a
  302 to ``/home`` and a session cookie, ``/home`` greets only with that cookie;
- ``/order`` a form posting to ``/receipt``, answered 200 directly; the receipt has a form posting to
  its own URL again;
- ``/one`` and ``/two`` share ``/shared.css`` (``no-cache``, so the leader's browser fetches it for every
  page load); each copy is numbered, and the page shows the number of the copy it got;
- ``/app`` a pushState-routed page with a contentEditable area and JSON API calls (GET on load, POST
  on a button);
- ``/data.json`` and ``/more.json``: documents with no runtime (JSON is never rewritten).

The follower is compared with the leader on what a person sees (visible text, field values and the
stylesheet copy), not on markup: proxy hosts in attributes name each participant's own view.
"""

from __future__ import annotations

import html
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from playwright.async_api import Browser
from world import World, open_world
from world.harness import Cobrowse, StartCobrowse
from world.hits import HitLog, hit_middleware
from world.party import NORMALISED_BODY, WAIT_MS, BrowserParty, lead, start_pair

SITE = "http://follow.test"
# Far longer than any wait below: a follower left waiting for a response that never comes would
# time every test out, not pass it slowly.
FOLLOWER_WAIT = 60.0

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/shared.css"></head>
<body><h1 id="title">{title}</h1>{body}</body></html>"""

LOGIN = """<form id="login" method="post" action="/login">
<input id="user" name="user" type="text"> <input id="password" name="password" type="password">
<button id="enter" type="submit">Log in</button></form><p id="error">{error}</p>"""

ORDER = """<form id="order" method="post" action="/receipt"><input id="item" name="item" type="text">
<button id="buy" type="submit">Buy</button></form>"""

APP = """<nav><a class="route" id="r-notes" href="/app/notes">notes</a>
<a class="route" id="r-list" href="/app/list">list</a></nav>
<main id="view"></main><div id="editor" contenteditable="true">write here</div>
<button id="add" type="button">add</button><ul id="items"></ul>
<script>
const view = document.getElementById('view');
const render = () => { view.textContent = 'route ' + location.pathname; };
const show = (items) => { document.getElementById('items').innerHTML = items.map((i) => `<li>${i}</li>`).join(''); };
for (const link of document.querySelectorAll('a.route')) {
  link.onclick = (e) => { e.preventDefault(); history.pushState({}, '', link.getAttribute('href')); render(); };
}
document.getElementById('add').addEventListener('click', async () => {
  const r = await fetch('/api/items', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'item ' + (document.querySelectorAll('#items li').length + 1) }) });
  show((await r.json()).items);
});
window.addEventListener('popstate', render);
render();
fetch('/api/items').then((r) => r.json()).then((d) => show(d.items));
</script>"""

LINKS = '<nav><a id="to-one" href="/one">one</a> <a id="to-two" href="/two">two</a></nav>'


def _page(title: str, body: str = "", **headers: str) -> web.Response:
    return web.Response(text=PAGE.format(title=title, body=body), content_type="text/html", headers=headers)


def follow_app(log: HitLog, host: str = "follow.test") -> web.Application:
    copies = itertools.count(1)
    items: list[str] = []

    async def login_form(request: web.Request) -> web.Response:
        return _page("Log in", LOGIN.format(error=""))

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("password") != "secret":
            return _page("Log in", LOGIN.format(error="wrong password"))
        raise web.HTTPFound("/home", headers={"Set-Cookie": f"sid={html.escape(str(form.get('user')))}; Path=/"})

    async def home(request: web.Request) -> web.Response:
        user = request.cookies.get("sid")
        if not user:
            raise web.HTTPFound("/login")
        return _page("Home", f'<p id="welcome">Welcome, {html.escape(user)}</p>{LINKS}')

    async def receipt(request: web.Request) -> web.Response:
        item = html.escape(str((await request.post()).get("item", "")))
        again = ORDER.replace('id="order"', 'id="again"')
        return _page("Receipt", f'<p id="bought">Bought: {item}</p>{again}')

    async def shared_css(request: web.Request) -> web.Response:
        css = f'h1 {{ color: rgb(0, 100, 0); }} h1::after {{ content: " (style copy {next(copies)})"; }}'
        return web.Response(text=css, content_type="text/css", headers={"Cache-Control": "no-cache"})

    async def api_items(request: web.Request) -> web.Response:
        if request.method == "POST":
            items.append(str((await request.json())["name"]))
        return web.json_response({"items": items}, headers={"Cache-Control": "no-store"})

    def page_of(title: str, body: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return _page(title, body)

        return handler

    def json_doc(value: object) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(value)

        return handler

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/home", home)
    app.router.add_get("/order", page_of("Order", ORDER))
    app.router.add_post("/receipt", receipt)
    app.router.add_get("/one", page_of("One", LINKS))
    app.router.add_get("/two", page_of("Two", LINKS))
    app.router.add_get("/app", page_of("App", APP))
    app.router.add_get("/app/{route}", page_of("App", APP))
    app.router.add_route("*", "/api/items", api_items)
    app.router.add_get("/shared.css", shared_css)
    app.router.add_get("/data.json", json_doc({"page": "data"}))
    app.router.add_get("/more.json", json_doc({"page": "more"}))
    return app


@pytest.fixture
async def follow_world() -> AsyncIterator[World]:
    async with open_world({"follow.test": follow_app}) as world:
        yield world


@pytest.fixture
async def server(follow_world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides=follow_world.resolve_overrides(), follower_wait=FOLLOWER_WAIT)


# What a person sees: the document (proxy hosts aside), the stylesheet copy its h1 shows, its colour.
SEEN = f"""() => {{
  const h1 = document.querySelector('h1');
  const style = h1 ? getComputedStyle(h1, '::after').content + ' ' + getComputedStyle(h1).color : '';
  return document.readyState + ' ' + location.pathname + ' ' + style + '\\n' + ({NORMALISED_BODY})();
}}"""


async def seen(party: BrowserParty) -> str:
    text: str = await party.page.evaluate(SEEN)
    return text


async def in_step(leader: BrowserParty, follower: BrowserParty, path: str, shows: str) -> str:
    """Wait until the leader shows ``shows`` on ``path`` (loaded) and the follower shows the same."""
    await leader.wait_url(SITE + path)
    await leader.page.wait_for_load_state("load")
    want = await seen(leader)
    assert want.startswith(f"complete {path} ") and shows in want, want
    await follower.page.wait_for_function(f"() => ({SEEN})() === {json.dumps(want)}", timeout=WAIT_MS)
    return want


def hits(log: HitLog) -> Counter[tuple[str, str]]:
    return Counter((h.method, h.path) for h in log if h.path != "/favicon.ico")


async def log_in(party: BrowserParty) -> None:
    await party.page.fill("#user", "ann")
    await party.page.fill("#password", "secret")
    await party.page.click("#enter")


async def test_follower_shows_the_logged_in_page_after_a_login_post_and_redirect_and_never_posts(
        browser: Browser, server: Cobrowse, follow_world: World) -> None:
    # The leader alone first: the hits the target gets without a follower.
    created = await server.create_session(SITE + "/login")
    alone = await lead(browser, created)
    await log_in(alone)
    await alone.wait_url(SITE + "/home")
    await alone.page.wait_for_load_state("load")
    await alone.context.close()
    without_follower = hits(follow_world.log)
    follow_world.log.hits.clear()

    _, leader, follower = await start_pair(browser, server, SITE + "/login")
    sent: list[str] = []
    follower.page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    await log_in(leader)
    await follower.wait_js("() => document.getElementById('user').value === 'ann'")
    assert await follower.page.evaluate("() => document.getElementById('password').value") == ""  # masked
    await in_step(leader, follower, "/home", "Welcome, ann")
    # The follower's own copy of the form (its password empty) was never sent, not even to the store.
    assert [r for r in sent if r.startswith("POST ")] == []
    assert any(r.startswith("GET ") and r.endswith("/home") for r in sent)
    assert hits(follow_world.log) == without_follower
    assert without_follower[("POST", "/login")] == 1


async def test_form_posts_answered_200_directly_show_the_leaders_answer_to_the_follower(
        browser: Browser, server: Cobrowse, follow_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, SITE + "/order")
    await leader.page.fill("#item", "tea")
    await leader.page.click("#buy")
    await in_step(leader, follower, "/receipt", "Bought: tea")
    # The receipt's own form posts to the receipt's URL: the follower, already there, reloads.
    await leader.page.fill("#item", "cake")
    await leader.page.click("#buy")
    await leader.page.wait_for_function("() => document.getElementById('bought').textContent === 'Bought: cake'")
    await in_step(leader, follower, "/receipt", "Bought: cake")
    posts = [h for h in follow_world.log if h.method == "POST"]
    assert [(h.path, h.peer) for h in posts] == [("/receipt", posts[0].peer)] * 2


async def test_pages_sharing_a_stylesheet_get_their_own_copy_back_and_forth(
        browser: Browser, server: Cobrowse, follow_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, SITE + "/one")
    copies = [await in_step(leader, follower, "/one", "(style copy 1)")]
    for path in ("/two", "/one", "/two", "/one"):
        await leader.page.click(f"#to-{path[1:]}")
        copies.append(await in_step(leader, follower, path, "rgb(0, 100, 0)"))
    # Each page load got a copy of its own, and the follower showed the one made for that load.
    numbers = [text.split("(style copy ")[1].split(")")[0] for text in copies]
    assert numbers == ["1", "2", "3", "4", "5"]
    assert hits(follow_world.log)[("GET", "/shared.css")] == 5


async def test_contenteditable_pushstate_routes_and_json_api_calls_stay_in_step(
        browser: Browser, server: Cobrowse, follow_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, SITE + "/app")
    await leader.page.click("#r-notes")
    await in_step(leader, follower, "/app/notes", "route /app/notes")
    await leader.page.click("#editor")
    await leader.page.keyboard.press("End")
    await leader.page.keyboard.type(" and more")
    await follower.wait_js("() => document.getElementById('editor').textContent === 'write here and more'")
    await leader.page.click("#add")
    await leader.page.wait_for_function("() => document.querySelectorAll('#items li').length === 1")
    await in_step(leader, follower, "/app/notes", "item 1")
    await leader.page.click("#r-list")
    await in_step(leader, follower, "/app/list", "write here and more")
    api = [(h.method, h.path) for h in follow_world.log if h.path == "/api/items"]
    assert api == [("GET", "/api/items"), ("POST", "/api/items")]


async def test_follower_follows_the_leader_between_documents_without_a_runtime(
        browser: Browser, server: Cobrowse, follow_world: World) -> None:
    _, leader, follower = await start_pair(browser, server, SITE + "/one")
    await leader.page.evaluate("() => location.assign('/data.json')")
    await follower.wait_url(SITE + "/data.json")
    assert json.loads(await follower.page.inner_text("pre")) == {"page": "data"}
    # The leader's JSON page has no runtime: only the server can tell the follower where it went.
    await leader.page.evaluate("() => location.assign('/more.json')")
    await follower.wait_url(SITE + "/more.json")
    assert json.loads(await follower.page.inner_text("pre")) == {"page": "more"}
    assert hits(follow_world.log)[("GET", "/more.json")] == 1
