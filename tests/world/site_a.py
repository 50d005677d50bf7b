"""Site A (``http://site-a.test``): the page that exercises every feature the proxy must carry.

``/`` sets the cookie set below and runs one check per feature (see ``SITE_A_CHECKS``).
``/js-urls`` checks URLs the page's scripts build (XHR, script/img elements, innerHTML) and what
it reads back (``document.domain``, ``document.URL``). ``/login`` is a form POST answered by a
302 to ``/me``, which shows the logged-in user. ``/refresh`` meta-refreshes to site B.
``/samesite-landing`` reports which SameSite cookies a cross-site navigation carried. ``/ws`` is
a WebSocket echo that refuses a foreign Origin, as real apps do.

Cookie design, so Domain semantics are observable: site A sets host-only cookies (seen by
site-a.test only) and ``Domain=site-a.test`` cookies (also seen by ``api.site-a.test``, which is
same-site but cross-origin); the API reports the names it received.
"""

from __future__ import annotations

import secrets

from aiohttp import WSMsgType, web

from world.hits import HitLog, hit_middleware
from world.pages import cookie_names, html_response, page

ORIGIN = "http://site-a.test"
USER, PASSWORD = "ann", "correct horse"

# name -> Set-Cookie attributes; the values are all "1".
SITE_A_COOKIES: dict[str, str] = {
    "host_only": "Path=/",
    "http_only": "Path=/; HttpOnly",
    "dom": "Domain=site-a.test; Path=/",
    "dom_http": "Domain=site-a.test; Path=/; HttpOnly",
    "lax": "Domain=site-a.test; Path=/; SameSite=Lax",
    "strict": "Domain=site-a.test; Path=/; SameSite=Strict",
}

# Every check id on ``/``, each of which must end as "ok".
SITE_A_CHECKS = (
    "cdn-script",
    "api-cors",
    "doc-cookie",
    "cookie-js-write",
    "cookie-domain",
    "ws",
    "srcset",
    "css-import",
    "css-url",
    "js-img",
    "iframe",
)

_INDEX_HEAD = """
<link rel="stylesheet" href="http://cdn.test/style.css">
<style>#css-block { width: 10px; height: 10px; background: url("http://cdn.test/img/block.png"); }</style>
<script>
window.addEventListener('message', (e) => { if (e.data === 'frame-ok') report('iframe', true); });
</script>
"""

_INDEX_BODY = """
<h1 id="title">Site A</h1>
<ul>
  <li>cdn-script: <span class="check" id="cdn-script">pending</span></li>
  <li>api-cors: <span class="check" id="api-cors">pending</span></li>
  <li>doc-cookie: <span class="check" id="doc-cookie">pending</span></li>
  <li>cookie-js-write: <span class="check" id="cookie-js-write">pending</span></li>
  <li>cookie-domain: <span class="check" id="cookie-domain">pending</span></li>
  <li>ws: <span class="check" id="ws">pending</span></li>
  <li>srcset: <span class="check" id="srcset">pending</span></li>
  <li>css-import: <span class="check" id="css-import">pending</span></li>
  <li>css-url: <span class="check" id="css-url">pending</span></li>
  <li>js-img: <span class="check" id="js-img">pending</span></li>
  <li>iframe: <span class="check" id="iframe">pending</span></li>
</ul>
<p>
  <a id="link-b" href="http://site-b.test/">to site B</a>
  <a id="login-link" href="/login">log in</a>
  <a id="refresh-link" href="http://site-a.test/refresh">meta refresh</a>
</p>
<div id="css-import-url"></div><div id="css-import-str"></div>
<div id="css-url-sheet"></div><div id="css-block"></div>
<div id="css-inline" style="width:10px;height:10px;background-image:url('http://cdn.test/img/inline.png')"></div>
<img id="srcset-img" alt="" src="http://cdn.test/img/fallback.png"
     srcset="http://cdn.test/img/a,1.png 1x, http://cdn.test/img/b.png 2x">
<iframe id="frame-b" src="http://site-b.test/frame" width="200" height="60"></iframe>
<script src="http://cdn.test/lib.js"></script>
<script>
const siteCookies = ['host_only', 'http_only', 'dom', 'dom_http', 'lax', 'strict'];
check('api-cors', async () => {
  const path = 'data' + '.json';
  const r = await fetch('http://api.test/' + path, {credentials: 'include'});
  const body = await r.json();
  if (body.origin !== 'http://site-a.test') return 'API saw Origin ' + body.origin;
  return expectNames(body.cookies, [], siteCookies);
});
check('doc-cookie', async () =>
  expectNames(documentCookieNames(), ['host_only', 'dom', 'lax', 'strict'], ['http_only', 'dom_http']));
check('cookie-js-write', async () => {
  document.cookie = 'js_set=1; path=/';
  let last = '';
  for (let i = 0; i < 20; i++) {
    const r = await fetch('/cookies');
    const got = (await r.json()).cookies;
    last = expectNames(got, siteCookies.concat(['js_set']), []);
    if (last === true) return true;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return last;
});
check('cookie-domain', async () => {
  const r = await fetch('http://api.site-a.test/cookies', {credentials: 'include'});
  const got = (await r.json()).cookies;
  return expectNames(got, ['dom', 'dom_http', 'lax', 'strict'], ['host_only', 'http_only']);
});
check('ws', () => new Promise((resolve) => {
  const ws = new WebSocket('ws://site-a.test/ws');
  ws.onopen = () => ws.send('ping');
  ws.onmessage = (e) => { resolve(e.data === 'echo:ping' ? true : 'got ' + e.data); ws.close(); };
  ws.onerror = () => resolve('socket error');
}));
poll('srcset', () => {
  const img = document.getElementById('srcset-img');
  if (!img.complete || img.naturalWidth === 0) return 'not loaded: ' + img.currentSrc;
  return /a(,|%2c)1\\.png/i.test(img.currentSrc) ? true : 'picked ' + img.currentSrc;
});
poll('css-import', () => {
  const a = getComputedStyle(document.getElementById('css-import-url')).width;
  const b = getComputedStyle(document.getElementById('css-import-str')).width;
  return a === '123px' && b === '77px' ? true : 'widths ' + a + ' ' + b;
});
poll('css-url', () => {
  // Resource timing omits what a cross-origin sheet loads: for that one, the hit log is the proof.
  const names = performance.getEntriesByType('resource').map((e) => e.name);
  const missing = ['/img/inline.png', '/img/block.png'].filter((w) => !names.some((n) => n.includes(w)));
  const sheet = getComputedStyle(document.getElementById('css-url-sheet')).backgroundImage;
  if (!sheet.includes('/img/bg.png')) missing.push('sheet background ' + sheet);
  return missing.length ? 'not loaded: ' + missing : true;
});
(() => {
  const img = new Image();
  img.onload = () => report('js-img', img.naturalWidth > 0, 'empty image');
  img.onerror = () => report('js-img', false, 'load error');
  const name = 'img/js' + '.png';
  img.src = 'http://cdn.test/' + name;
  document.body.appendChild(img);
})();
</script>
"""


# Checks on ``/js-urls``: URLs the page's own scripts build, and what the page reads back.
JS_URL_CHECKS = ("xhr", "dyn-script", "set-attribute", "inner-html", "doc-readback")

_JS_URLS_BODY = """
<h1>URLs built by scripts</h1>
<ul>
  <li>xhr: <span class="check" id="xhr">pending</span></li>
  <li>dyn-script: <span class="check" id="dyn-script">pending</span></li>
  <li>set-attribute: <span class="check" id="set-attribute">pending</span></li>
  <li>inner-html: <span class="check" id="inner-html">pending</span></li>
  <li>doc-readback: <span class="check" id="doc-readback">pending</span></li>
</ul>
<div id="inner-box"></div>
<button id="js-nav" type="button" onclick="location.href = 'http://site-b.test/' + '?from=js'">go</button>
<script>
check('xhr', () => new Promise((resolve) => {
  const xhr = new XMLHttpRequest();
  xhr.open('GET', 'http://api.test/' + 'data.json');
  xhr.withCredentials = true;
  xhr.onload = () => {
    const body = JSON.parse(xhr.responseText);
    resolve(body.origin === 'http://site-a.test' ? true : 'API saw Origin ' + body.origin);
  };
  xhr.onerror = () => resolve('xhr error');
  xhr.send();
}));
(() => {
  const script = document.createElement('script');
  script.onerror = () => report('dyn-script', false, 'load error');
  script.src = 'http://cdn.test/' + 'dyn.js';
  document.body.appendChild(script);
  const img = document.createElement('img');
  img.onload = () => report('set-attribute', img.naturalWidth > 0, 'empty image');
  img.onerror = () => report('set-attribute', false, 'load error');
  img.setAttribute('src', 'http://cdn.test/img/' + 'attr.png');
  document.body.appendChild(img);
  document.getElementById('inner-box').innerHTML = '<img id="inner" alt="" src="http://cdn.test/img/inner.png">';
})();
poll('inner-html', () => {
  const img = document.getElementById('inner');
  return img && img.complete && img.naturalWidth > 0 ? true : 'not loaded';
});
check('doc-readback', async () => {
  const seen = [document.domain, document.URL];
  return seen[0] === 'site-a.test' && seen[1] === 'http://site-a.test/js-urls' ? true : 'read ' + seen;
});
</script>
"""


async def js_urls(request: web.Request) -> web.Response:
    return html_response(page("JS URLs", _JS_URLS_BODY))


def _set_site_cookies(response: web.StreamResponse) -> None:
    for name, attrs in SITE_A_COOKIES.items():
        response.headers.add("Set-Cookie", f"{name}=1; {attrs}")


async def index(request: web.Request) -> web.Response:
    response = html_response(page("Site A", _INDEX_BODY, _INDEX_HEAD))
    _set_site_cookies(response)
    return response


async def cookies(request: web.Request) -> web.Response:
    return web.json_response({"cookies": cookie_names(request)})


_LOGIN_FORM = """
<h1>Log in</h1>
<form id="login-form" method="post" action="http://site-a.test/login">
  <input id="user" name="user"> <input id="password" name="password" type="password">
  <button id="login-submit" type="submit">Log in</button>
</form>
<p id="error">{error}</p>
"""


async def login_form(request: web.Request) -> web.Response:
    return html_response(page("Log in", _LOGIN_FORM.format(error="")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("user") != USER or form.get("password") != PASSWORD:
        return html_response(page("Log in", _LOGIN_FORM.format(error="bad credentials")), status=403)
    sessions: dict[str, str] = request.app[SESSIONS]
    token = secrets.token_hex(8)
    sessions[token] = USER
    response = web.HTTPFound(f"{ORIGIN}/me")
    response.set_cookie("sid", token, httponly=True, path="/", samesite="Lax")
    raise response


async def me(request: web.Request) -> web.Response:
    sessions: dict[str, str] = request.app[SESSIONS]
    user = sessions.get(request.cookies.get("sid", ""), "anonymous")
    body = f'<h1>Welcome</h1><p>Signed in as <span id="user">{user}</span></p><a id="home" href="/">home</a>'
    return html_response(page("Me", body))


async def refresh(request: web.Request) -> web.Response:
    head = '<meta http-equiv="refresh" content="0; url=http://site-b.test/refreshed">'
    return html_response(page("Refresh", "<p>moving to site B</p>", head))


async def samesite_landing(request: web.Request) -> web.Response:
    got = request.cookies
    body = (
        f'<p>lax: <span id="nav-lax">{"yes" if "lax" in got else "no"}</span></p>'
        f'<p>strict: <span id="nav-strict">{"yes" if "strict" in got else "no"}</span></p>'
    )
    return html_response(page("SameSite landing", body))


async def ws_echo(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Origin") != ORIGIN:
        raise web.HTTPForbidden(text=f"foreign Origin {request.headers.get('Origin')!r}")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
    return ws


SESSIONS: web.AppKey[dict[str, str]] = web.AppKey("sessions", dict)


def make_app(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app[SESSIONS] = {}
    app.router.add_get("/", index)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/me", me)
    app.router.add_get("/refresh", refresh)
    app.router.add_get("/js-urls", js_urls)
    app.router.add_get("/samesite-landing", samesite_landing)
    app.router.add_get("/ws", ws_echo)
    return app
