/* cobrowse runtime, part 45: the functions that rewritten page scripts call.
 *
 * Job: `rewriter/js.py` rewrites every script's references to `location` into calls of three
 * globals (non-enumerable, non-writable own properties of window, so page code neither sees
 * them in `for...in` nor replaces them):
 * - `__cb$loc(v)`: `v` itself unless it is a real Location object, in which case the stand-in
 *   of part 40 for the window it belongs to (this one, a parent, a frame, the opener...), so
 *   `location.hostname`, `top.location.href`, `document.location.origin` read the real values
 *   and `location.href = u`, `assign(u)`, `replace(u)` navigate within the proxy space;
 * - `__cb$set(o)`: for `o.location = v`; a window or document gives a target whose `location`
 *   setter navigates through the stand-in, anything else is returned unchanged;
 * - `__cb$pat(o)`: for `const {location} = o`; a window or document is read through a Proxy
 *   whose `location` is the stand-in, anything else is returned unchanged;
 * - `__cb$rw(code)`: the code an `eval` is about to run, rewritten (a string), or `code` itself;
 * - `__cb$po(targetOrigin)`: a postMessage target origin (or options) naming a real origin,
 *   mapped to its proxy origin (this window's own postMessage maps it too);
 * - `__cb$im(specifier)`, `__cb$me(import.meta)`: import() of a real URL, import.meta.url and
 *   import.meta.resolve() read as real (part 20's cbImportSpecifier, cbImportMeta).
 * `cbRewriteJs(source, kind)` rewrites script text built at run time (kind 'classic', 'module'
 * or 'body', a function body): text naming none of location, eval, postMessage (a regex test)
 * is returned at once; the rest is sent to the proxy (`POST /__cb/js`, a synchronous
 * same-origin XHR, since the code must run now) and the answer kept in a bounded per-page
 * cache. Fail open: any error, a refusal or an odd text (lone surrogates, which UTF-8 cannot
 * carry) runs the text as it came.
 * Invariants: never throws more than the unrewritten expression would (a cross-origin frame's
 * stand-in throws SecurityError when read, as the native Location does); plain objects with a
 * `location` property are untouched; each verdict is cached per object in a WeakMap, so
 * `props.location` read in a render loop costs one lookup.
 * Part 47 routes `new Function`, string timers and script text through `cbRewriteJs`; parts
 * 60 and 70 event-handler attributes and `javascript:` URLs set at run time.
 */
const cbStandIns = new WeakMap(); // native Location (or anything already judged) -> what to hand out

/** The windows whose Location a script can reach from here, nearest first (bounded). */
function cbReachableWindows() {
  const out = [window];
  const add = (w) => { if (w && !out.includes(w) && out.length < 200) out.push(w); };
  cbTry(() => { for (let w = window; w !== w.parent; w = w.parent) add(w.parent); });
  cbTry(() => add(window.opener));
  for (let i = 0; i < out.length && out.length < 200; i++) {
    cbTry(() => { const w = out[i]; for (let j = 0; j < w.length; j++) add(w[j]); });
  }
  return out;
}

function cbLocStandIn(v) {
  if (v === null || typeof v !== 'object') return v;
  if (v === window.location) return window.__cbLocation || v;
  const known = cbStandIns.get(v);
  if (known !== undefined) return known;
  let found = v;
  for (const w of cbReachableWindows()) {
    let same = false;
    try { same = w.location === v; } catch (e) { /* a closed window */ }
    if (same) {
      found = w === window ? window.__cbLocation || v : cbLocationFor(w);
      cbStandIns.set(found, found);
      break;
    }
  }
  cbStandIns.set(v, found);
  return found;
}

/** The window `o` is, or whose document `o` is; null for anything else. */
function cbWindowOf(o) {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return null;
  try {
    if (o.window === o) return o;
  } catch (e) { /* not a window */ }
  try {
    if (o instanceof o.defaultView.Document) return o.defaultView;
  } catch (e) { /* not a document, or one without a window */ }
  return null;
}

function cbLocSetTarget(o) {
  const win = cbWindowOf(o);
  if (!win) return o;
  return {
    get location() { return cbLocStandIn(win.location); },
    set location(v) { cbLocStandIn(win.location).href = v; },
  };
}

function cbLocPattern(o) {
  const win = cbWindowOf(o);
  if (!win) return o;
  return new Proxy(o, {
    get: (target, key) => (key === 'location' ? cbLocStandIn(win.location) : Reflect.get(target, key)),
  });
}

// -- code built at run time --------------------------------------------------------------------

const CB_JS_NAMES_RE = /location|eval|postMessage|import\s*(?:\(|\.\s*meta)/;
const CB_LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
const CB_JS_MAX = 4 * 1024 * 1024; // proxy/jsendpoint.py MAX_SOURCE (in UTF-16 units: a bound only)
const CB_JS_CACHE_MAX = 500;
const cbJsRewritten = new Map(); // kind + '\n' + source -> rewritten source

/** Script text built at run time, rewritten as rewriter/js.py would (kind: 'classic',
 * 'module' or 'body'); the text itself when it need not or cannot be. Never throws. */
function cbRewriteJs(source, kind) {
  if (typeof source !== 'string' || !CB_JS_NAMES_RE.test(source)) return source;
  const key = (kind || 'classic') + '\n' + source;
  let out = cbJsRewritten.get(key);
  if (out === undefined) {
    out = cbTry(() => cbAskRewrite(source, kind || 'classic'), source);
    if (cbJsRewritten.size >= CB_JS_CACHE_MAX - 1) cbJsRewritten.clear();
    cbJsRewritten.set(key, out);
    // Rewritten text handed back to us (a script's text read and re-inserted) stays as it is.
    if (out !== source) cbJsRewritten.set((kind || 'classic') + '\n' + out, out);
  }
  return out;
}

function cbAskRewrite(source, kind) {
  if (source.length > CB_JS_MAX || CB_LONE_SURROGATE_RE.test(source)) return source;
  const xhr = new CBN.XHR();
  CBN.xhrOpen.call(xhr, 'POST', CB.prefix + 'js?kind=' + kind, false);
  CBN.xhrSetHeader.call(xhr, 'Content-Type', 'text/plain;charset=UTF-8');
  CBN.xhrSend.call(xhr, source);
  // Only the endpoint's own answer counts (anything else on that path runs the text as it came).
  const type = xhr.status === 200 ? xhr.getResponseHeader('Content-Type') : null;
  return type && /^text\/javascript/i.test(type) ? xhr.responseText : source;
}

const CB_JS_URL_RE = /^[\u0000-\u0020]*j[\t\n\r]*a[\t\n\r]*v[\t\n\r]*a[\t\n\r]*s[\t\n\r]*c[\t\n\r]*r[\t\n\r]*i[\t\n\r]*p[\t\n\r]*t[\t\n\r]*:/i;

/** A `javascript:` URL with its code rewritten as a classic script (rewriter/html.py does the
 * same for served pages); any other URL unchanged. */
function cbRewriteJsUrl(url) {
  if (typeof url !== 'string') return url;
  const m = CB_JS_URL_RE.exec(url);
  if (!m) return url;
  const raw = url.slice(m[0].length);
  if (!CB_JS_NAMES_RE.test(raw) && !raw.includes('%')) return url;
  const code = cbTry(() => decodeURIComponent(raw), null);
  if (code === null || !CB_JS_NAMES_RE.test(code)) return url;
  const out = cbRewriteJs(code, 'classic');
  return out === code ? url : m[0] + out.replace(/%/g, '%25');
}

/** A postMessage target origin (or options object) with a real origin mapped to its proxy
 * origin: a window's message is delivered only where it names the receiver's (proxy) origin. */
function cbTargetOrigin(v) {
  if (typeof v === 'string') return cbProxyTargetOrigin(v);
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.targetOrigin === 'string') {
    const mapped = cbProxyTargetOrigin(v.targetOrigin);
    return mapped === v.targetOrigin ? v : { ...v, targetOrigin: mapped };
  }
  return v;
}

function cbProxyTargetOrigin(origin) {
  if (origin === '*' || origin === '/') return origin;
  const mapped = cbToProxy(origin);
  return mapped === origin || mapped === CB_REFUSED ? origin : cbTry(() => new CBN.URL(mapped).origin, origin);
}

// Unrewritten callers of this window's own postMessage (other windows' are theirs, or
// cross-origin natives the rewriter's __cb$po covers).
cbPatchMethod(window, 'postMessage', (args) => (args.length >= 2 ? [args[0], cbTargetOrigin(args[1])]
  .concat(Array.prototype.slice.call(args, 2)) : args));

function cbRewriteEvalCode(code) {
  return typeof code === 'string' ? cbRewriteJs(code, 'classic') : code;
}

for (const [name, fn] of [['__cb$loc', cbLocStandIn], ['__cb$set', cbLocSetTarget], ['__cb$pat', cbLocPattern],
  ['__cb$rw', cbRewriteEvalCode], ['__cb$po', cbTargetOrigin], ['__cb$im', cbImportSpecifier],
  ['__cb$me', cbImportMeta]]) {
  // In a reused window (part 00) the first copy's functions stay.
  cbTry(() => Object.defineProperty(window, name, { value: fn, configurable: false, enumerable: false, writable: false }));
}
