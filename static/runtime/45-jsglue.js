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
 *   whose `location` is the stand-in, anything else is returned unchanged.
 * Invariants: never throws more than the unrewritten expression would (a cross-origin frame's
 * stand-in throws SecurityError when read, as the native Location does); plain objects with a
 * `location` property are untouched; each verdict is cached per object in a WeakMap, so
 * `props.location` read in a render loop costs one lookup.
 * Not here yet: code built at run time (`eval`, `new Function`, string timers, scripts written
 * by `document.write`) runs unrewritten. `cbRewriteJs` is the hook for it: a later part can
 * ship the rewriter's rules (or ask the server) and patch those entry points to call it.
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

/** Rewrite script text built at run time; identity until the rules ship to the browser. */
function cbRewriteJs(source) {
  return source;
}

for (const [name, fn] of [['__cb$loc', cbLocStandIn], ['__cb$set', cbLocSetTarget], ['__cb$pat', cbLocPattern]]) {
  // In a reused window (part 00) the first copy's functions stay.
  cbTry(() => Object.defineProperty(window, name, { value: fn, configurable: false, enumerable: false, writable: false }));
}
