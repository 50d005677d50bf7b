/* cobrowse runtime, part 85: fresh realms get this runtime before page script can use them.
 *
 * Job: every same-origin realm the page can create without loading a proxied document (an
 * iframe with no src, about:blank and javascript: frames, a popup from open('') or
 * open('about:blank'), <object>) starts with the browser's natives: its `open` would load a
 * real URL as a top-level page, which the proxy's CSP does not cover. So the realm is armed:
 * this runtime's own source (part 00) is compiled with the realm's own `Function` and run
 * with the parent's config, synchronously, wherever the page can first get hold of it:
 * - contentWindow/contentDocument (and getSVGDocument) of iframe, frame and object;
 * - after every DOM insertion method, for `frames[i]`/`window[i]` (indexed access to a
 *   WindowProxy cannot be hooked): arming runs when the frame count changed or a frame
 *   element was inserted, so the common insertion costs one `length` read;
 * - a capturing `load` listener (Chromium fires an about:blank frame's load during insertion);
 * - what window.open and three-argument document.open return.
 * A popup is also handed out behind a Proxy whose `location` is a stand-in (part 40): the
 * Navigation API fires no `navigate` event in an about:blank document, so `w.location = url`
 * must be mapped before it reaches the native Location (checked in Chromium 156).
 * Invariants: cross-origin windows are left alone (their proxied document has its own copy);
 * an armed realm runs parts 00-90 only (no sync socket: part 90 returns there); a realm where
 * scripts cannot run (sandboxed) gets a mapped `open` defined from here instead; never throws.
 * Cost: one compile and run of the runtime per fresh realm, ~2 ms (bench/bench_realms.py).
 */
const CB_FRAME_TAGS = new Set(['iframe', 'frame', 'object', 'embed']);
const cbFramesLength = cbTry(() => Object.getOwnPropertyDescriptor(window, 'length').get, null);
let cbFramesSeen = 0;

/** Run this runtime in `win`'s realm, unless it is cross-origin or already has it. */
function cbArm(win) {
  if (!win || win === window) return;
  try {
    if (win.__cbRuntime) return;
  } catch (e) {
    return; // cross-origin
  }
  if (CB_SOURCE) {
    try {
      const run = win.Function('return ' + CB_SOURCE)();
      run({ config: JSON.stringify(cbChildConfig()), source: CB_SOURCE });
    } catch (e) {
      cbReport(e);
    }
  }
  cbTry(() => { if (!win.__cbRuntime) cbArmOpenOnly(win); });
}

function cbArmOpenOnly(win) {
  const native = win.open;
  Object.defineProperty(win, 'open', {
    configurable: true, writable: true, value: function open(...args) {
      return native.apply(win, cbTry(() => cbMapArg(args, 0, cbToProxy), args));
    },
  });
}

function cbArmFrames(nodes) {
  const n = cbFramesLength ? cbFramesLength.call(window) : window.length;
  let framed = n !== cbFramesSeen;
  for (let i = 0; !framed && i < nodes.length; i++) {
    const node = nodes[i];
    framed = !!(node && CB_FRAME_TAGS.has(node.localName));
  }
  cbFramesSeen = n;
  if (!framed) return;
  for (let i = 0; i < n; i++) cbArm(window[i]);
}

// -- where a realm first shows ----------------------------------------------------------------

for (const iface of ['HTMLIFrameElement', 'HTMLFrameElement', 'HTMLObjectElement']) {
  const proto = window[iface] && window[iface].prototype;
  if (!proto) continue;
  cbPatchAccessor(proto, 'contentWindow', function (w) { cbArm(w); return w; });
  cbPatchAccessor(proto, 'contentDocument', function (d) {
    if (d) cbArm(d.defaultView);
    return d;
  });
}
for (const iface of ['HTMLIFrameElement', 'HTMLObjectElement', 'HTMLEmbedElement', 'HTMLFrameElement']) {
  const proto = window[iface] && window[iface].prototype;
  if (proto) cbPatchMethod(proto, 'getSVGDocument', null, (d) => { if (d) cbArm(d.defaultView); return d; });
}

window.addEventListener('load', (e) => cbTry(() => {
  const t = e.target;
  if (t && CB_FRAME_TAGS.has(t.localName)) cbArm(t.contentWindow);
}), true);

const CB_INSERTIONS = [
  ['Node', ['appendChild', 'insertBefore', 'replaceChild']],
  ['Element', ['append', 'prepend', 'before', 'after', 'replaceWith', 'replaceChildren', 'insertAdjacentElement',
    'insertAdjacentHTML', 'setHTMLUnsafe']],
  ['CharacterData', ['before', 'after', 'replaceWith']],
  ['DocumentType', ['before', 'after', 'replaceWith']],
  ['Document', ['append', 'prepend', 'replaceChildren', 'write', 'writeln']],
  ['ShadowRoot', ['setHTMLUnsafe']],
  ['DocumentFragment', ['append', 'prepend', 'replaceChildren']],
  ['Range', ['insertNode', 'surroundContents']],
];
for (const [iface, names] of CB_INSERTIONS) {
  const proto = window[iface] && window[iface].prototype;
  if (!proto) continue;
  for (const name of names) {
    cbPatchMethod(proto, name, null, (result, args) => { cbArmFrames(args); return result; });
  }
}
for (const [iface, name] of [['Element', 'innerHTML'], ['Element', 'outerHTML'], ['ShadowRoot', 'innerHTML']]) {
  cbTry(() => {
    const proto = window[iface].prototype;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (!d || !d.configurable || !d.set) return;
    Object.defineProperty(proto, name, {
      ...d,
      set(v) {
        d.set.call(this, v);
        cbTry(() => cbArmFrames([]));
      },
    });
  });
}

// -- popups -----------------------------------------------------------------------------------

const cbPopups = new WeakMap(); // real WindowProxy -> the Proxy the page holds

/** What the page gets for a window it opened: armed, and behind a Proxy when same-origin. */
function cbPopup(win) {
  if (!win || typeof win !== 'object') return win;
  cbArm(win);
  try {
    void win.document; // cross-origin windows are handed out as they are
  } catch (e) {
    return win;
  }
  const known = cbPopups.get(win);
  if (known) return known;
  const location = cbLocationFor(win);
  const bound = new Map();
  const proxy = new Proxy(win, {
    get(target, prop) {
      if (prop === 'location') return location;
      const v = target[prop];
      if (v === target) return proxy;
      if (typeof v !== 'function' || !cbIsWindowMethod(target, prop)) return v;
      let b = bound.get(prop);
      if (!b || b.native !== v) {
        b = { native: v, fn: cbBindWindowMethod(v, target) };
        bound.set(prop, b);
      }
      return b.fn;
    },
    set(target, prop, value) {
      if (prop === 'location') location.href = value;
      else target[prop] = value;
      return true;
    },
  });
  cbPopups.set(win, proxy);
  return proxy;
}

function cbIsWindowMethod(win, prop) {
  // close, focus, postMessage, ...: own natives that need the real window as `this`.
  return typeof prop === 'string' && !/^[A-Z]/.test(prop);
}

function cbBindWindowMethod(fn, win) {
  return function (...args) { return fn.apply(this === undefined || cbPopups.get(win) === this ? win : this, args); };
}

cbPatchMethod(window, 'open', null, (w) => cbPopup(w));
cbPatchMethod(Document.prototype, 'open', (args) => (args.length >= 3 ? cbMapArg(args, 0, cbToProxy) : args),
  (result, args) => (args.length >= 3 ? cbPopup(result) : result));
// A popup's messages name the window the page holds, so `event.source === popup` still holds.
cbPatchAccessor(MessageEvent.prototype, 'source', (v) => (v && cbPopups.get(v)) || v);
