"""The leak suite's target site: one page that tries every way we know to reach its real origin.

The site is ``http://leak.test``. Through the proxy, each way asks for ``http://leak.test/hit/<way>``
(or a page that does); mapped into the proxy space, that request arrives here, its *twin*, and is
counted. Chromium itself resolves ``leak.test`` (and ``*.leak.test``) to a canary, so a way that
escapes the proxy space is seen there, by its path. ``WAYS`` says, per way, which positive event
proves the attempt ran: ``twin`` (the proxied request reached the site) or ``done`` (the page
reported the attempt finished: refused, failed or thrown, with nothing left in flight).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

HOST = "leak.test"
REAL = f"http://{HOST}"

# way -> how its attempt is fenced ("twin" or "done")
WAYS: dict[str, str] = {
    # markup the proxy rewrites before the browser parses it
    "img-static": "twin",
    "img-srcset": "twin",
    "css-inline-url": "twin",
    "css-import": "twin",
    "css-image-set": "twin",
    "font-face-css": "twin",
    "link-header-preload": "done",
    "modulepreload": "twin",
    "meta-refresh": "twin",
    "svg-href": "twin",
    "svg-xlink-href": "twin",
    "object-data": "twin",
    "srcdoc-img": "twin",
    "form-action": "twin",
    "a-ping": "twin",
    "a-download": "twin",
    "slashless-https": "done",
    # requests page script starts
    "img-js": "twin",
    "fetch": "twin",
    "fetch-request": "twin",
    "xhr": "twin",
    "beacon": "twin",
    "eventsource": "twin",
    "websocket": "twin",
    "font-face-js": "done",
    "worker": "twin",
    "shared-worker": "twin",
    "import-scripts": "done",
    "dynamic-import": "done",
    "link-preload-js": "twin",
    "innerhtml-img": "twin",
    "style-csstext": "twin",
    "svg-set-xlink": "twin",
    "webrtc-turn": "done",
    # top-level navigations: popups from every realm, and location in all its forms
    "open-main": "twin",
    "open-blank-iframe": "twin",
    "open-frames-index": "twin",
    "open-srcdoc-iframe": "twin",
    "open-javascript-iframe": "twin",
    "open-document-open": "twin",
    "open-parser-iframe": "twin",
    "open-sandboxed-iframe": "twin",
    "anchor-blank-iframe": "twin",
    "popup-location-href": "twin",
    "popup-location-prop": "twin",
    "popup-location-assign": "twin",
    "popup-location-replace": "twin",
    "popup-written-open": "twin",
    "location-href": "twin",
    "location-assign": "twin",
    "location-replace": "twin",
    "location-host": "twin",
    "top-location": "twin",
}

_STYLE = f"""<style>
@import url("{REAL}/hit/css-import");
#image-set {{ width: 4px; height: 4px; background-image: image-set("{REAL}/hit/css-image-set" 1x); }}
@font-face {{ font-family: LeakFont; src: url("{REAL}/hit/font-face-css"); }}
#font {{ font-family: LeakFont; }}
</style>"""

_MARKUP = f"""
<img src="{REAL}/hit/img-static">
<img srcset="{REAL}/hit/img-srcset 1x">
<div style="width:4px;height:4px;background:url({REAL}/hit/css-inline-url)"></div>
<div id="image-set"></div><span id="font">font</span>
<link rel="modulepreload" href="{REAL}/hit/modulepreload.js">
<iframe src="/refresh-frame"></iframe>
<svg width="4" height="4"><image href="{REAL}/hit/svg-href" width="4" height="4"/></svg>
<svg width="4" height="4" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="{REAL}/hit/svg-xlink-href"
  width="4" height="4"/></svg>
<object data="{REAL}/hit/object-data" width="4" height="4"></object>
<iframe srcdoc="<img src='{REAL}/hit/srcdoc-img'>"></iframe>
<iframe name="sink-form"></iframe><iframe name="sink-ping"></iframe>
<form id="form" method="post" action="{REAL}/hit/form-action" target="sink-form"><input name="q" value="1"></form>
<a id="ping" href="/pinged" ping="{REAL}/hit/a-ping" target="sink-ping">ping</a>
<a id="download" href="{REAL}/hit/a-download" download="x.bin">download</a>
<img id="slashless" src="https:slashless-https.{HOST}/hit/slashless-https">
<iframe srcdoc="<script>open('{REAL}/hit/open-srcdoc-iframe')</script>"></iframe>
<iframe name="parsed"></iframe>
<iframe name="sandboxed" sandbox="allow-same-origin allow-popups"></iframe>
"""

_SCRIPT = f"""<script>
const REAL = '{REAL}';
function done(way) {{ document.getElementById(way).textContent = 'done'; }}
function settle(way, p) {{ Promise.resolve().then(p).then(() => done(way), () => done(way)); }}
function wait(ms) {{ return new Promise((r) => setTimeout(r, ms)); }}

new Image().src = REAL + '/hit/img-js';
fetch(REAL + '/hit/fetch');
fetch(new Request(REAL + '/hit/fetch-request'));
const xhr = new XMLHttpRequest(); xhr.open('GET', REAL + '/hit/xhr'); xhr.send();
navigator.sendBeacon(REAL + '/hit/beacon', 'x');
const es = new EventSource(REAL + '/hit/eventsource'); setTimeout(() => es.close(), 3000);
try {{ new WebSocket('ws://{HOST}/hit/websocket'); }} catch (e) {{}}
settle('font-face-js', () => new FontFace('LeakJs', 'url(' + REAL + '/hit/font-face-js)').load());
new Worker(REAL + '/hit/worker.js');
new SharedWorker(REAL + '/hit/shared-worker.js');
const importer = new Worker('/import-worker.js');
importer.onmessage = () => done('import-scripts');
settle('dynamic-import', () => import(REAL + '/hit/dynamic-import.js'));
const preload = document.createElement('link');
preload.rel = 'preload'; preload.as = 'image'; preload.href = REAL + '/hit/link-preload-js';
document.head.appendChild(preload);
const holder = document.createElement('div');
holder.innerHTML = '<img src="' + REAL + '/hit/innerhtml-img">';
document.body.appendChild(holder);
const styled = document.createElement('div');
styled.style.cssText = 'width:4px;height:4px;background:url(' + REAL + '/hit/style-csstext)';
document.body.appendChild(styled);
const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
const image = document.createElementNS('http://www.w3.org/2000/svg', 'image');
image.setAttributeNS('http://www.w3.org/1999/xlink', 'xlink:href', REAL + '/hit/svg-set-xlink');
svg.appendChild(image); document.body.appendChild(svg);
settle('webrtc-turn', async () => {{
  const pc = new RTCPeerConnection({{ iceServers: [{{ urls: TURN_URL, username: 'u', credential: 'p' }}] }});
  pc.createDataChannel('x');
  await pc.setLocalDescription(await pc.createOffer());
  await wait(3000);
}});
const slashless = document.getElementById('slashless');
if (slashless.complete) done('slashless-https');
else slashless.onload = slashless.onerror = () => done('slashless-https');
document.getElementById('form').submit();
document.getElementById('ping').click();
document.getElementById('download').click();
// The Link header's preload either arrived as a twin or was dropped by the proxy: the page has
// loaded either way once this runs after the load event.
window.addEventListener('load', () => done('link-header-preload'));

// popups, from every realm
open(REAL + '/hit/open-main');
const blank = document.createElement('iframe'); document.body.appendChild(blank);
blank.contentWindow.open(REAL + '/hit/open-blank-iframe');
const indexed = document.createElement('iframe'); document.body.appendChild(indexed);
frames[frames.length - 1].open(REAL + '/hit/open-frames-index');
const jsframe = document.createElement('iframe');
const jsdoc = '<script>open("' + REAL + '/hit/open-javascript-iframe")<\\/script>';
jsframe.src = 'javascript:' + encodeURIComponent(JSON.stringify(jsdoc));
document.body.appendChild(jsframe);
document.open(REAL + '/hit/open-document-open', '', '');
window.parsed.open(REAL + '/hit/open-parser-iframe');
window.sandboxed.open(REAL + '/hit/open-sandboxed-iframe');
const anchored = document.createElement('iframe'); document.body.appendChild(anchored);
anchored.contentDocument.body.innerHTML = '<a id="x" target="_blank" href="' + REAL + '/hit/anchor-blank-iframe">x</a>';
anchored.contentDocument.getElementById('x').click();
const p1 = open('about:blank'); p1.location.href = REAL + '/hit/popup-location-href';
const p2 = open(''); p2.location = REAL + '/hit/popup-location-prop';
const p3 = open(''); p3.location.assign(REAL + '/hit/popup-location-assign');
open('').location.replace(REAL + '/hit/popup-location-replace');
const p4 = open('');
p4.document.write('<script>open("' + REAL + '/hit/popup-written-open")<\\/script>');
// location in all its forms, each in a proxied top-level page of its own
for (const how of ['href', 'assign', 'replace', 'host', 'top']) open('/locate?how=' + how);
</script>"""


def index_html(turn_url: str) -> str:
    checks = "".join(f'<span id="{w}">pending</span>' for w, fence in WAYS.items() if fence == "done")
    script = _SCRIPT.replace("TURN_URL", repr(turn_url))
    head = f"<meta charset='utf-8'>{_STYLE}"
    return f"<!doctype html><html><head>{head}</head><body>{checks}{_MARKUP}{script}</body></html>"


_LOCATE = {
    "href": f"location.href = '{REAL}/hit/location-href';",
    "assign": f"location.assign('{REAL}/hit/location-assign');",
    "replace": f"location.replace('{REAL}/hit/location-replace');",
    "host": "history.replaceState(null, '', '/hit/location-host'); location.host = '" + HOST + ":80';",
    "top": "",
}
_TOP_FRAME = (f"<iframe srcdoc=\"<script>top.location.href = '{REAL}/hit/top-location'</script>\"></iframe>")

_WORKER = f"""try {{ importScripts('{REAL}/hit/import-scripts'); }} catch (e) {{}}
postMessage('done');"""

_KINDS = {".js": "application/javascript", ".css": "text/css"}


def _hit_answer(name: str) -> web.Response:
    if name == "eventsource":
        return web.Response(text="data: x\n\n", content_type="text/event-stream")
    if name == "css-import":
        return web.Response(text="p { color: red; }", content_type="text/css")
    for suffix, kind in _KINDS.items():
        if name.endswith(suffix):
            return web.Response(text="void 0;", content_type=kind)
    return web.Response(body=b"x", content_type="application/octet-stream")


def leak_app(turn_url: str, on_hit: Callable[[str], None]) -> web.Application:
    """The site: ``/`` tries every way; ``/hit/<way>`` calls ``on_hit(way)`` and answers it."""

    async def hit(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        on_hit(name.removesuffix(".js"))
        return _hit_answer(name)

    async def index(_: web.Request) -> web.Response:
        link = f'<{REAL}/hit/link-header-preload>; rel=preload; as=image'
        return web.Response(text=index_html(turn_url), content_type="text/html", headers={"Link": link})

    async def refresh_frame(_: web.Request) -> web.Response:
        meta = f'<meta http-equiv="refresh" content="0;url={REAL}/hit/meta-refresh">'
        return web.Response(text=f"<!doctype html><html><head>{meta}</head><body></body></html>",
                            content_type="text/html")

    async def locate(request: web.Request) -> web.Response:
        how = request.query.get("how", "")
        body = _TOP_FRAME if how == "top" else f"<script>{_LOCATE.get(how, '')}</script>"
        return web.Response(text=f"<!doctype html><html><body>{body}</body></html>", content_type="text/html")

    async def worker(_: web.Request) -> web.Response:
        return web.Response(text=_WORKER, content_type="application/javascript")

    async def blank(_: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><p>ok</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/refresh-frame", refresh_frame)
    app.router.add_get("/locate", locate)
    app.router.add_get("/import-worker.js", worker)
    app.router.add_route("*", "/hit/{name}", hit)
    app.router.add_route("*", "/{tail:.*}", blank)
    return app
