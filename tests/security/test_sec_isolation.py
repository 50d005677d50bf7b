"""Threat model: isolation between proxied origins and between sessions.

Rows covered here:
- a request or socket with no credential, another session's credential, or a replayed ticket:
  403 for HTTP, the ``/__cb/*`` endpoints, the sync socket and a target WebSocket upgrade, and
  nothing dialled (the session's target resolves to a ``canary`` that must see no connection);
- one proxied origin reading another's DOM, storage or cookies (Chromium: SecurityError, CORS,
  the runtime's cookie endpoint refusing a foreign document);
- a page tossing a ``Domain=`` cookie at another session (Chromium: through the runtime and
  through a fresh realm's native setter, including a cookie shadowing the other session's
  participant cookie); a target's ``Set-Cookie: Domain=<proxy domain>`` never reaching the browser.

Each negative assertion follows a positive event: the 403 answer itself (the proxy answers at
admission, before it would dial), or a later request of the other session arriving at its target.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page
from world.canary import Canary
from world.harness import DOMAIN, Cobrowse, StartCobrowse
from world.hits import Hit, HitLog, hit_middleware
from world.party import WAIT_MS, open_party
from world.targets import ServeWorld, World

# -- credentials: every door of a session host ---------------------------------------------


async def _ws_status(server: Cobrowse, url: str, cookies: dict[str, str], origin: str) -> int:
    """The HTTP status a WebSocket handshake to ``url`` (a proxy URL) is answered with."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc, "Origin": origin}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        async with server.client.ws_connect(f"http://127.0.0.1:{server.port}{parts.path}", headers=headers,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=5)):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def _enter(server: Cobrowse, url: str) -> tuple[str, dict[str, str], str]:
    """A session on ``url``, its leader credential (redeemed without a browser) and its leader link."""
    created = await server.create_session(url)
    redeemed = await server.redeem(created["leader_url"])
    assert redeemed.status in (302, 303), redeemed.text[:300]
    sid = str(created["id"])
    name = f"cbp_{sid}"
    return sid, {name: server.cookies[name]}, str(created["leader_url"])


async def test_no_credential_another_sessions_credential_or_a_replayed_ticket_is_403_on_every_door(
    canary: Canary, start_server: StartCobrowse
) -> None:
    server = await start_server(resolve_overrides={"t.test:80": canary.address})
    one, one_cookie, one_link = await _enter(server, "http://t.test/")
    two, two_cookie, _ = await _enter(server, "http://t.test/")
    host = server.proxy_url(one, "t.test")
    page_origin = host.rstrip("/")
    wrong: dict[str, dict[str, str]] = {
        "no credential": {},
        "another session's credential": two_cookie,
        "another session's credential under this session's name": {f"cbp_{one}": two_cookie[f"cbp_{two}"]},
        "garbage": {f"cbp_{one}": "v1.garbage"},
    }
    doors = [
        ("GET", "/"),
        ("POST", "/form"),
        ("GET", "/__cb/runtime.js"),
        ("GET", f"/__cb/cookie?url={quote('http://t.test/')}"),
        ("POST", "/__cb/cookie"),
        ("GET", f"/__cb/alias?origin={quote('http://x' * 30 + '.test')}"),
    ]
    for what, cookies in wrong.items():
        for method, path in doors:
            reply = await server.request(method, server.proxy_url(one, "t.test", path), cookies=cookies,
                                         headers={"Origin": page_origin},
                                         data=json.dumps({"url": "http://t.test/", "cookie": "a=1"}))
            assert reply.status == 403, f"{method} {path} with {what}: {reply.status}"
        for path in ("/__cb/sync", "/socket"):
            status = await _ws_status(server, server.proxy_url(one, "t.test", path), cookies, page_origin)
            assert status == 403, f"WebSocket {path} with {what}: {status}"

    replayed = await server.request("GET", one_link, cookies={})
    assert replayed.status in (403, 410), replayed.status
    assert replayed.header("Set-Cookie") is None
    # The credential itself is good (its 403s were not a broken server): a reserved endpoint
    # that dials nothing answers it.
    ok = await server.request("GET", server.proxy_url(one, "t.test", "/__cb/runtime.js"), cookies=one_cookie)
    assert ok.status == 200
    assert canary.connections == 0, canary.report()


# -- sites for the browser rows ----------------------------------------------------------------

TOSSED = "x"

A_INDEX = """<!doctype html><meta charset=utf-8><title>A</title><h1 id=title>A</h1>
<iframe id=frame src="http://b.test/frame"></iframe>"""

B_FRAME = """<!doctype html><meta charset=utf-8><title>B</title><h1 id=title>B frame</h1>
<script>
document.cookie = 'bsecret=1; Path=/';
localStorage.setItem('bkey', 'b-only');
document.body.dataset.ready = String(document.cookie.includes('bsecret=1') && localStorage.getItem('bkey'));
(opener || parent).postMessage('b-ready', '*');
</script>"""

# Run in A's page (page script): every way to reach into B. Each entry names the attempt and
# what came back; "blocked" is the only good answer.
PROBE = """async ({bProxy}) => {
  const frame = document.getElementById('frame');
  const out = {};
  const attempt = async (name, fn) => {
    try { const got = await fn(); out[name] = 'read: ' + String(got).slice(0, 80); }
    catch (e) { out[name] = 'blocked'; }
  };
  await attempt('frame document', () => frame.contentWindow.document.title);
  await attempt('frame localStorage', () => frame.contentWindow.localStorage.getItem('bkey'));
  await attempt('frame cookie', () => frame.contentWindow.document.cookie);
  let w;
  await new Promise((resolve) => {  // the popup has loaded B (not its initial about:blank)
    window.addEventListener('message', (e) => { if (w && e.source === w) resolve(); });
    w = window.open(bProxy + '/frame', '_blank');
  });
  await attempt('popup document', () => w.document.title);
  await attempt('popup localStorage', () => w.localStorage.getItem('bkey'));
  w.close();
  await attempt("B's cookie endpoint, cross-origin fetch", async () => {
    const r = await fetch(bProxy + '/__cb/cookie?url=' + encodeURIComponent('http://b.test/frame'),
                          {credentials: 'include'});
    return r.text();
  });
  await attempt("A's cookie endpoint asked for B's document", async () => {
    const r = await fetch('/__cb/cookie?url=' + encodeURIComponent('http://b.test/frame'));
    if (!r.ok) throw new Error(String(r.status));
    return r.text();
  });
  await attempt("B's cookie endpoint included as a script", () => new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = bProxy + '/__cb/cookie?url=' + encodeURIComponent('http://b.test/frame');
    s.onload = () => (typeof window.bsecret !== 'undefined' ? resolve(window.bsecret) : reject(new Error('no')));
    s.onerror = () => reject(new Error('error'));
    document.head.append(s);
  }));
  await attempt('own localStorage holds no B key', () => {
    if (localStorage.getItem('bkey') === null) throw new Error('absent');
    return localStorage.getItem('bkey');
  });
  await attempt('own document.cookie holds no B cookie', () => {
    if (!document.cookie.includes('bsecret')) throw new Error('absent');
    return document.cookie;
  });
  return out;
}"""


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


def _site_a(log: HitLog, host: str) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        return _html(A_INDEX)

    async def echo(request: web.Request) -> web.Response:
        response = _html("<!doctype html><meta charset=utf-8><title>echo</title><h1 id=done>done</h1>")
        # A target trying to plant a cookie on every session's hosts (and the control plane).
        response.headers.add("Set-Cookie", f"planted=1; Domain={DOMAIN}; Path=/")
        return response

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/", index)
    app.router.add_get("/{tail:.*}", echo)
    return app


def _site_b(log: HitLog, host: str) -> web.Application:
    async def frame(request: web.Request) -> web.Response:
        return _html(B_FRAME)

    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/frame", frame)
    return app


@pytest.fixture
async def sites(serve_world: ServeWorld) -> World:
    return await serve_world({"a.test": _site_a, "b.test": _site_b})


async def _hit(log: HitLog, server: str, path: str) -> Hit:
    return await log.first(lambda h: h.server == server and h.path == path, f"{server} {path}", WAIT_MS / 1000)


async def test_a_proxied_origin_cannot_read_another_origins_dom_storage_or_cookies(
    browser: Browser, sites: World, start_server: StartCobrowse
) -> None:
    server = await start_server(resolve_overrides=sites.resolve_overrides())
    created = await server.create_session("http://a.test/")
    party = await open_party(browser, created["leader_url"])
    page = party.page
    b_proxy = server.proxy_url(str(created["id"]), "b.test").rstrip("/")
    # Positive event: B's frame loaded with its own cookie and storage in place.
    await page.frame_locator("#frame").locator("body[data-ready='b-only']").wait_for(timeout=WAIT_MS)
    results: dict[str, Any] = await page.evaluate(PROBE, {"bProxy": b_proxy})
    leaks = {name: got for name, got in results.items() if got != "blocked"}
    assert leaks == {}, leaks


async def _native_cookie_write(page: Page, line: str) -> None:
    """``document.cookie = line`` through a fresh realm's own (native) setter, around any hook."""
    await page.evaluate("""(line) => {
      const f = document.createElement('iframe');
      document.body.append(f);
      const setter = Object.getOwnPropertyDescriptor(f.contentWindow.Document.prototype, 'cookie').set;
      setter.call(document, line);
      f.contentDocument.cookie = line;
    }""", line)


async def test_a_page_tossing_domain_cookies_cannot_reach_or_shadow_another_session(
    browser: Browser, sites: World, start_server: StartCobrowse
) -> None:
    server = await start_server(resolve_overrides=sites.resolve_overrides())
    one = await server.create_session("http://a.test/one")
    two = await server.create_session("http://a.test/two")
    first = await open_party(browser, one["leader_url"])
    await first.page.wait_for_selector("#done", timeout=WAIT_MS)
    context = first.context
    second = await context.new_page()  # the same browser: both participant cookies in one jar
    await second.goto(two["leader_url"])
    await second.wait_for_selector("#done", timeout=WAIT_MS)

    # The target's Domain cookie never reached the browser.
    assert "planted" not in {c["name"] for c in await context.cookies()}

    # Session 1's page tosses cookies at the whole proxy domain: through the runtime's
    # document.cookie, and through a fresh realm's native setter, including one that shadows
    # session 2's participant cookie on a deeper path (sent first, before the real one).
    shadow = f"cbp_{two['id']}"
    for line in (f"{TOSSED}=1; Domain={DOMAIN}; Path=/", f"{shadow}=forged; Domain={DOMAIN}; Path=/deep"):
        await first.page.evaluate("(line) => { document.cookie = line; }", line)
        await _native_cookie_write(first.page, line)
    # Whether or not the runtime let them through, make sure the browser holds them: the proxy,
    # not the runtime, is the defence being proved.
    await context.add_cookies([
        {"name": TOSSED, "value": "1", "domain": DOMAIN, "path": "/"},
        {"name": shadow, "value": "forged", "domain": DOMAIN, "path": "/deep"},
    ])

    await second.goto(server.proxy_url(str(two["id"]), "a.test", "/deep/after"))
    await second.wait_for_selector("#done", timeout=WAIT_MS)  # positive: session 2 still works
    hit = await _hit(sites.log, "a.test", "/deep/after")
    assert hit.cookie_names() == set(), hit.header("Cookie")
    for got in sites.log:
        assert TOSSED not in got.cookie_names() and not any(n.startswith("cbp_") for n in got.cookie_names())
    assert "planted" not in {c["name"] for c in await context.cookies()}
