"""The sinks site (``http://sinks.test``): one page whose script loads through every sink it can.

Each check builds its URLs the way bundles do, absolute, from ``document.baseURI`` (so through
the proxy they are real URLs the runtime must map), loads through one sink, and reports what
the page itself reads back (its *view*: the rule's ``cssText``, the declaration's value, the
worker's message...) as ``view <json>``, or ``error <name>: <message>``. ``SINKS`` names, for
each check, the paths the site must receive when the sink really loaded: the tests count them.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import WSMsgType, web

from world.hits import HitLog, hit_middleware
from world.pages import PNG_1X1

HOST = "sinks.test"
ORIGIN = f"http://{HOST}"
# A real font, so that "loaded" is what the page sees; without it both runs see "error" alike.
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_BYTES = web.AppKey("font_bytes", bytes)


def _png(*names: str) -> tuple[str, ...]:
    return tuple(f"/a/{n}.png" for n in names)


# check id -> paths the site must receive for it (none: the view alone is the evidence)
SINKS: dict[str, tuple[str, ...]] = {
    "style-textcontent": _png("style-textcontent"),
    "style-innertext": _png("style-innertext"),
    "style-innerhtml": _png("style-innerhtml"),
    "style-appendchild-text-node": _png("style-appendchild-text-node"),
    "style-insertbefore-text-node": _png("style-insertbefore-text-node"),
    "style-append-string": _png("style-append-string"),
    "style-append-fragment": _png("style-append-fragment"),
    "style-text-node-data": _png("style-text-node-data"),
    "style-text-node-nodevalue": _png("style-text-node-nodevalue"),
    "style-text-node-textcontent": _png("style-text-node-textcontent"),
    "style-text-node-appenddata": _png("style-text-node-appenddata"),
    "style-text-node-after": _png("style-text-node-after"),
    "style-font-face-rule": ("/a/style-font-face-rule.ttf",),
    "sheet-insertrule": _png("sheet-insertrule"),
    "sheet-addrule": _png("sheet-addrule"),
    "sheet-media-insertrule": _png("sheet-media-insertrule"),
    "sheet-keyframes-appendrule": _png("sheet-keyframes-appendrule"),
    "sheet-import-rule": ("/a/sheet-import-rule.css", "/a/sheet-import-rule.png"),
    "constructed-replacesync-adopted": _png("constructed-replacesync-adopted"),
    "constructed-replace-shadow-adopted": _png("constructed-replace-shadow-adopted"),
    "rule-style-setproperty": _png("rule-style-setproperty"),
    "rule-style-named-property": _png("rule-style-named-property"),
    "inline-csstext": _png("inline-csstext"),
    "inline-setproperty": _png("inline-setproperty"),
    "inline-style-assign": _png("inline-style-assign"),
    "inline-computed-style": _png("inline-computed-style"),
    "inline-typed-om": _png("inline-typed-om"),
    "inline-named-property": _png("inline-named-property"),
    "inline-declaration-identity": (),
    "inline-url-properties": _png("list-style-image", "border-image-source", "mask-image", "content"),
    "animation-keyframes": _png("animation-keyframes"),
    "keyframe-effect-setkeyframes": _png("keyframe-effect-setkeyframes"),
    "font-face-constructor": ("/a/font-face-constructor.ttf",),
    "websocketstream": ("/ws",),
    "fetch-later": ("/a/fetch-later",),
    "worker-module": ("/a/worker-module.js",),
    "shared-worker": ("/a/shared-worker.js",),
    "worklet-audio": ("/a/worklet-audio.js",),
    "worklet-paint": ("/a/worklet-paint.js",),
    "service-worker": ("/a/sw.js",),
    "fresh-iframe-style-text-node": _png("fresh-iframe-style-text-node"),
    "fresh-iframe-named-property": _png("fresh-iframe-named-property"),
    "audio-constructor": ("/a/audio-constructor.wav",),
    "served-style-readback": ("/a/served-style.png",),
    "served-inline-style-readback": ("/a/served-inline.png",),
    "link-preload": _png("link-preload"),
    "link-preload-href-first": _png("link-preload-href-first"),
    "link-modulepreload": ("/a/link-modulepreload.js",),
    "link-stylesheet-sheet-href": ("/a/link-stylesheet-sheet-href.css",),
    "dynamic-import-absolute": ("/a/dynamic-import-absolute.js",),
    "import-meta-url": ("/a/import-meta-url.js", "/a/import-meta-url.png"),
    "dynamic-import-in-module": ("/a/import-meta-url.js", "/a/dynamic-import-in-module.js"),
}

_SCRIPT = r"""<script>
const A = document.baseURI.replace(/[^/]*$/, '') + 'a/';
const url = (file) => 'url(' + A + file + ')';
const bg = (name) => 'background-image:' + url(name + '.png');
const rule = (name) => '.' + name + '{width:8px;height:8px;' + bg(name) + '}';

function box(name) {
  const d = document.createElement('div');
  d.className = name;
  document.getElementById('boxes').appendChild(d);
  return d;
}
function styleEl() {
  const s = document.createElement('style');
  document.head.appendChild(s);
  return s;
}
function sheet() { return styleEl().sheet; }
function nextFrame() { return new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))); }
function message(target, start) {
  return new Promise((resolve, reject) => {
    target.onmessage = (e) => resolve(e.data);
    target.onerror = () => reject(new Error('worker error'));
    if (start) start();
  });
}

async function check(name, fn) {
  const el = document.getElementById(name);
  try {
    el.textContent = 'view ' + JSON.stringify(await fn(name));
  } catch (e) {
    el.textContent = 'error ' + e.name + ': ' + e.message;
  }
}

check('style-textcontent', (n) => { const s = styleEl(); s.textContent = rule(n); box(n); return s.textContent; });
check('style-innertext', (n) => { const s = styleEl(); s.innerText = rule(n); box(n); return s.innerText; });
check('style-innerhtml', (n) => { const s = styleEl(); s.innerHTML = rule(n); box(n); return s.innerHTML; });
check('style-appendchild-text-node', (n) => {
  const s = styleEl(); s.appendChild(document.createTextNode(rule(n))); box(n); return s.textContent;
});
check('style-insertbefore-text-node', (n) => {
  const s = styleEl(); s.appendChild(document.createTextNode(''));
  s.insertBefore(document.createTextNode(rule(n)), s.firstChild); box(n);
  return s.firstChild.data;
});
check('style-append-string', (n) => { const s = styleEl(); s.append(rule(n)); box(n); return s.textContent; });
check('style-append-fragment', (n) => {
  const f = document.createDocumentFragment(); f.appendChild(document.createTextNode(rule(n)));
  const s = styleEl(); s.appendChild(f); box(n); return s.firstChild.nodeValue;
});
check('style-text-node-data', (n) => {
  const s = styleEl(); const t = s.appendChild(document.createTextNode('')); t.data = rule(n); box(n); return t.data;
});
check('style-text-node-nodevalue', (n) => {
  const s = styleEl(); const t = s.appendChild(document.createTextNode(''));
  t.nodeValue = rule(n); box(n); return t.nodeValue;
});
check('style-text-node-textcontent', (n) => {
  const s = styleEl(); const t = s.appendChild(document.createTextNode(''));
  t.textContent = rule(n); box(n); return [t.textContent, s.textContent];
});
check('style-text-node-appenddata', (n) => {
  const s = styleEl(); const t = s.appendChild(document.createTextNode('.' + n + '{width:8px;height:8px;'));
  t.appendData(bg(n)); t.appendData('}'); box(n); return t.data;
});
check('style-text-node-after', (n) => {
  const s = styleEl(); const t = s.appendChild(document.createTextNode('')); t.after(rule(n)); box(n);
  return s.textContent;
});
check('style-font-face-rule', async (n) => {
  const s = styleEl();
  s.appendChild(document.createTextNode('@font-face{font-family:SinkRule;src:' + url(n + '.ttf') + '}'));
  const faces = await document.fonts.load('12px SinkRule');
  return [s.textContent, faces.length, s.sheet.cssRules[0].cssText];
});
check('sheet-insertrule', (n) => {
  const sh = sheet(); sh.insertRule(rule(n), 0); box(n); return sh.cssRules[0].cssText;
});
check('sheet-addrule', (n) => {
  const sh = sheet(); sh.addRule('.' + n, 'width:8px;height:8px;' + bg(n)); box(n); return sh.cssRules[0].cssText;
});
check('sheet-media-insertrule', (n) => {
  const sh = sheet(); sh.insertRule('@media all {}', 0); sh.cssRules[0].insertRule(rule(n), 0); box(n);
  return [sh.cssRules[0].cssRules[0].cssText, sh.cssRules[0].cssText];
});
check('sheet-keyframes-appendrule', (n) => {
  const sh = sheet(); sh.insertRule('@keyframes ' + n + ' {}', 0);
  sh.cssRules[0].appendRule('0%, 100% {' + bg(n) + '}');
  box(n).style.cssText = 'width:8px;height:8px;animation:' + n + ' 100s';
  return sh.cssRules[0].cssText;
});
check('sheet-import-rule', (n) => {
  const sh = sheet(); sh.insertRule('@import ' + url(n + '.css') + ';', 0); box(n);
  return [sh.cssRules[0].href, sh.cssRules[0].cssText];
});
check('constructed-replacesync-adopted', (n) => {
  const sh = new CSSStyleSheet(); sh.replaceSync(rule(n));
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sh]; box(n);
  return sh.cssRules[0].cssText;
});
check('constructed-replace-shadow-adopted', async (n) => {
  const host = box('shadow-host'); const root = host.attachShadow({ mode: 'open' });
  const sh = await new CSSStyleSheet().replace(rule(n));
  root.adoptedStyleSheets = [sh];
  const inner = document.createElement('div'); inner.className = n; root.appendChild(inner);
  return sh.cssRules[0].cssText;
});
check('rule-style-setproperty', (n) => {
  const sh = sheet(); sh.insertRule('.' + n + '{width:8px;height:8px}', 0);
  sh.cssRules[0].style.setProperty('background-image', url(n + '.png')); box(n);
  return [sh.cssRules[0].style.getPropertyValue('background-image'), sh.cssRules[0].style.cssText];
});
check('rule-style-named-property', (n) => {
  const sh = sheet(); sh.insertRule('.' + n + '{width:8px;height:8px}', 0);
  sh.cssRules[0].style.backgroundImage = url(n + '.png'); box(n);
  return [sh.cssRules[0].style.backgroundImage, sh.cssRules[0].cssText];
});
check('inline-csstext', (n) => {
  const d = box(n); d.style.cssText = 'width:8px;height:8px;' + bg(n);
  return [d.style.cssText, d.getAttribute('style')];
});
check('inline-setproperty', (n) => {
  const d = box(n); d.style.cssText = 'width:8px;height:8px';
  d.style.setProperty('background-image', url(n + '.png'));
  return [d.style.getPropertyValue('background-image'), d.style.cssText];
});
check('inline-style-assign', (n) => {
  const d = box(n); d.style = 'width:8px;height:8px;' + bg(n); return d.style.cssText;
});
check('inline-computed-style', async (n) => {
  const d = box(n); d.setAttribute('style', 'width:8px;height:8px;' + bg(n));
  await nextFrame();
  return [getComputedStyle(d).getPropertyValue('background-image'), getComputedStyle(d).backgroundImage];
});
check('inline-typed-om', (n) => {
  const d = box(n); d.style.cssText = 'width:8px;height:8px';
  d.attributeStyleMap.set('background-image', url(n + '.png'));
  return d.style.getPropertyValue('background-image');
});
check('inline-named-property', async (n) => {
  const d = box(n); d.style.width = '8px'; d.style.height = '8px'; d.style.backgroundImage = url(n + '.png');
  await nextFrame();
  return [d.style.backgroundImage, d.style.getPropertyValue('background-image')];
});
check('inline-declaration-identity', () => {
  const d = box('identity'); const st = d.style;
  st.color = 'red'; st.setProperty('--x', '1'); st.removeProperty('color'); st.cssFloat = 'left';
  const setProperty = CSSStyleDeclaration.prototype.setProperty; setProperty.call(st, 'width', '8px');
  return [st === d.style, st instanceof CSSStyleDeclaration, Object.prototype.toString.call(st),
    st.setProperty === setProperty, st.length, [...st], Object.keys(st).length > 0, 'width' in st,
    st[0], getComputedStyle(d) instanceof CSSStyleDeclaration, st.parentRule, st.cssText];
});
check('inline-url-properties', async () => {
  const set = (css) => { const d = box('props'); d.style.cssText = css; return d; };
  const els = [
    set('display:list-item;margin-left:20px;list-style-image:' + url('list-style-image.png')),
    set('width:8px;height:8px;border:4px solid;border-image-source:' + url('border-image-source.png')),
    set('width:8px;height:8px;background:red;mask-image:' + url('mask-image.png')),
    set('width:8px;height:8px;content:' + url('content.png')),
    set('width:8px;height:8px;cursor:' + url('cursor.png') + ', auto'),
  ];
  await nextFrame();
  return els.map((d) => d.style.cssText);
});
check('animation-keyframes', (n) => {
  const d = box(n); d.style.cssText = 'width:8px;height:8px';
  const a = d.animate([{ backgroundImage: url(n + '.png') }, { backgroundImage: url(n + '.png') }], 100000);
  return a.effect.getKeyframes().map((k) => k.backgroundImage);
});
check('keyframe-effect-setkeyframes', (n) => {
  const d = box(n); d.style.cssText = 'width:8px;height:8px';
  const effect = new KeyframeEffect(d, null, 100000);
  effect.setKeyframes({ backgroundImage: [url(n + '.png'), url(n + '.png')] });
  new Animation(effect).play();
  return effect.getKeyframes().map((k) => k.backgroundImage);
});
check('font-face-constructor', async (n) => {
  const face = new FontFace('SinkCtor', url(n + '.ttf'));
  await face.load().catch(() => null);
  return face.status;
});
check('websocketstream', async () => {
  const wss = new WebSocketStream(A.replace(/^http/, 'ws').replace(/a\/$/, 'ws'));
  const { writable, readable } = await wss.opened;
  const writer = writable.getWriter(); await writer.write('ping');
  const { value } = await readable.getReader().read();
  wss.close();
  return [wss.url, value];
});
check('fetch-later', (n) => { const r = fetchLater(A + n, { activateAfter: 0 }); return typeof r.activated; });
check('worker-module', (n) => message(new Worker(A + n + '.js', { type: 'module' })));
check('shared-worker', (n) => {
  const w = new SharedWorker(A + n + '.js'); return message(w.port, () => w.port.start());
});
check('worklet-audio', async (n) => {
  await new AudioContext().audioWorklet.addModule(A + n + '.js'); return 'added';
});
check('worklet-paint', async (n) => { await CSS.paintWorklet.addModule(A + n + '.js'); return 'added'; });
check('service-worker', async () => {
  const reg = await navigator.serviceWorker.register(A + 'sw.js', { scope: A });
  const worker = reg.installing || reg.waiting || reg.active;
  return [reg.scope, worker.scriptURL];
});
// A fresh same-origin realm (about:blank iframe): its own natives, armed with the runtime.
function frameDoc() {
  const f = document.createElement('iframe'); f.style.cssText = 'width:40px;height:40px';
  document.getElementById('boxes').appendChild(f);
  return f.contentDocument;
}
check('fresh-iframe-style-text-node', (n) => {
  const doc = frameDoc(); const s = doc.createElement('style'); doc.head.appendChild(s);
  s.appendChild(doc.createTextNode(rule(n)));
  const d = doc.createElement('div'); d.className = n; doc.body.appendChild(d);
  return [s.textContent, s.sheet.cssRules[0].cssText];
});
check('fresh-iframe-named-property', (n) => {
  const doc = frameDoc(); const d = doc.createElement('div'); doc.body.appendChild(d);
  d.style.width = '8px'; d.style.height = '8px'; d.style.backgroundImage = url(n + '.png');
  return d.style.backgroundImage;
});
check('audio-constructor', (n) => {
  const a = new Audio(A + n + '.wav');
  return [a.src, a instanceof HTMLAudioElement, a.constructor === HTMLAudioElement, Audio.name];
});
check('served-style-readback', () => {
  const s = document.getElementById('served-style');
  return [s.textContent, s.sheet.cssRules[0].cssText, s.sheet.cssRules[0].style.backgroundImage];
});
check('served-inline-style-readback', () => {
  const d = document.getElementById('served-inline');
  return [d.getAttribute('style'), d.style.backgroundImage, d.style.cssText];
});
check('link-preload', (n) => {
  const l = document.createElement('link'); l.rel = 'preload'; l.as = 'image'; l.href = A + n + '.png';
  document.head.appendChild(l); return l.href;
});
check('link-preload-href-first', (n) => {
  const l = document.createElement('link'); l.setAttribute('href', A + n + '.png');
  l.setAttribute('as', 'image'); l.setAttribute('rel', 'preload');
  document.head.appendChild(l); return [l.getAttribute('href'), l.href];
});
check('link-modulepreload', (n) => {
  const l = document.createElement('link'); l.setAttribute('rel', 'modulepreload'); l.href = A + n + '.js';
  document.head.appendChild(l); return l.href;
});
check('dynamic-import-absolute', async (n) => {
  const m = await import(A + n + '.js'); return [m.value, m.here];
});
check('import-meta-url', async () => {
  const m = await import('./a/import-meta-url.js'); return [await m.fetched, ...m.view];
});
check('dynamic-import-in-module', async () => {
  const m = await import('./a/import-meta-url.js'); return await m.nested();
});
check('link-stylesheet-sheet-href', (n) => new Promise((resolve, reject) => {
  const l = document.createElement('link'); l.rel = 'stylesheet'; l.href = A + n + '.css';
  l.onload = () => resolve([l.href, l.sheet.href]); l.onerror = () => reject(new Error('stylesheet failed'));
  document.head.appendChild(l);
}));
</script>"""

_JS: dict[str, str] = {
    "/a/worker-module.js": "postMessage('module ' + typeof import.meta);\n",
    "/a/shared-worker.js": "onconnect = (e) => e.ports[0].postMessage('shared');\n",
    "/a/worklet-audio.js": (
        "registerProcessor('sink', class extends AudioWorkletProcessor { process() { return false; } });\n"
    ),
    "/a/worklet-paint.js": "registerPaint('sink', class { paint() {} });\n",
    "/a/sw.js": "self.addEventListener('install', () => self.skipWaiting());\n",
    "/a/link-modulepreload.js": "export const loaded = true;\n",
    "/a/dynamic-import-absolute.js": "export const value = 'imported'; export const here = import.meta.url;\n",
    # Builds URLs from import.meta.url (as bundlers emit for assets and chunks): real ones.
    "/a/import-meta-url.js": (
        "const png = new URL('import-meta-url.png', import.meta.url);\n"
        "export const view = [import.meta.url, png.href, import.meta.resolve('./x.js')];\n"
        "export const fetched = fetch(png).then((r) => [r.status, r.url]);\n"
        "export const nested = () => import(new URL('dynamic-import-in-module.js', import.meta.url).href)"
        ".then((m) => [m.here, m.value]);\n"),
    "/a/dynamic-import-in-module.js": "export const here = import.meta.url; export const value = 'nested';\n",
}
_CSS: dict[str, str] = {
    "/a/sheet-import-rule.css": ".sheet-import-rule { width: 8px; height: 8px;"
    " background-image: url(sheet-import-rule.png); }\n",
    "/a/link-stylesheet-sheet-href.css": "#boxes { min-height: 1px; }\n",
}


# CSS the page was served with (absolute real URLs, rewritten by the proxy): what scripts read back.
_SERVED = (
    f"<style id=served-style>.served {{ background-image: url({ORIGIN}/a/served-style.png); }}</style>\n"
    "<div class=served style='width:8px;height:8px'></div>\n"
    f"<div id=served-inline style='width:8px;height:8px;background-image:url({ORIGIN}/a/served-inline.png)'></div>\n"
)


def page() -> str:
    checks = "".join(f"<b id={name}>pending</b>\n" for name in SINKS)
    return f"<!doctype html><title>sinks</title>\n{_SERVED}<div id=checks>{checks}</div><div id=boxes></div>\n{_SCRIPT}"


async def index(request: web.Request) -> web.Response:
    return web.Response(text=page(), content_type="text/html", charset="utf-8")


async def asset(request: web.Request) -> web.StreamResponse:
    path = request.path
    font = request.app[FONT_BYTES]
    if path in _JS:
        return web.Response(text=_JS[path], content_type="application/javascript", charset="utf-8")
    if path in _CSS:
        return web.Response(text=_CSS[path], content_type="text/css", charset="utf-8")
    if path == "/a/fetch-later":
        return web.Response(text="later")
    if path.endswith(".wav"):
        return web.Response(body=b"", content_type="audio/wav")
    if path.endswith(".png"):
        return web.Response(body=PNG_1X1, content_type="image/png")
    if path.endswith(".ttf"):
        return web.Response(body=font, content_type="font/ttf")
    raise web.HTTPNotFound()


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


def make_app(log: HitLog, name: str) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, name)])
    app[FONT_BYTES] = FONT.read_bytes() if FONT.exists() else b""
    app.router.add_get("/", index)
    app.router.add_get("/ws", echo)
    app.router.add_get("/a/{name}", asset)
    return app
