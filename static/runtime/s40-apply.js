/* cobrowse runtime, part s40: apply what the participant in control did, here.
 *
 * Job: for each relayed input message, find the element by its path and do the same thing
 * the way a page notices it: real clicks (el.click(), after mousedown/mouseup), values through
 * the native setters followed by `input`/`change` events (frameworks track both), dispatched
 * KeyboardEvents, focus, selection ranges, media calls, form submission, scroll anchored to
 * an element, and navigation when this page's URL still differs after a short grace.
 * Invariants: everything runs inside cbApplying (nothing is captured back); the controller
 * never applies input messages (a stale one that crosses a control change is dropped);
 * messages for another window are ignored; a value already equal is not set again (no
 * duplicate events for pages that watch them); a navigation the page is already making (the
 * replayed click on a link) is not started a second time.
 */
const CB_NAV_GRACE_MS = 700;
const CB_NAV_PENDING_MS = 15000;
const CB_SUBMIT_DEDUPE_MS = 3000;

const cbNativeValue = {
  input: Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value'),
  textarea: Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value'),
  checked: Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'checked'),
};

function cbFire(el, type) {
  el.dispatchEvent(new Event(type, { bubbles: true, cancelable: type !== 'input' && type !== 'change' }));
}

// The server sends window-scoped kinds only to the sender's window; this guards the rest.
function cbForMe(msg) {
  return msg.window === undefined || msg.window === null || msg.window === cbSync.win;
}

// -- navigation -------------------------------------------------------------------------------

const cbNav = { want: '', kind: '', timer: 0, pendingSince: 0 };

// A cross-document navigation this page has started (replayed link click, page script, form):
// the Navigation API announces it before the request goes out.
cbTry(() => {
  if (!cbSync.on || !window.navigation) return;
  window.navigation.addEventListener('navigate', (e) => {
    if (!e.hashChange && e.destination && !e.destination.sameDocument) cbNav.pendingSince = Date.now();
  });
});

function cbNavPending() {
  return cbNav.pendingSince > 0 && Date.now() - cbNav.pendingSince < CB_NAV_PENDING_MS;
}

function cbSameUrl(a, b) {
  return cbTry(() => new CBN.URL(a).href === new CBN.URL(b).href, a === b);
}

function cbWithoutHash(url) {
  return cbTry(() => { const u = new CBN.URL(url); u.hash = ''; return u.href; }, url);
}

/** Follow the controller to `url` unless this page gets there by itself within the grace. */
function cbFollow(url, kind, graceMs) {
  if (typeof url !== 'string' || !url) return;
  cbNav.want = url;
  cbNav.kind = kind;
  clearTimeout(cbNav.timer);
  cbNav.timer = setTimeout(() => cbTry(cbFollowNow), graceMs);
}

// Same-document routes (pushState and friends): move the history entry and tell the page's
// router the way a back/forward would, instead of loading a document the driver never loaded.
const CB_SAME_DOC_KINDS = new Set(['push', 'replace', 'pop']);

function cbFollowNow() {
  if (cbSyncInControl() || cbSync.status === 'ended') return;
  const want = cbNav.want;
  const here = cbRealHref();
  if (!want || cbSameUrl(here, want)) return;
  if (cbNavPending()) { cbFollow(want, cbNav.kind, CB_NAV_GRACE_MS); return; }
  cbApplying(() => {
    const sameDoc = cbSameUrl(cbWithoutHash(here), cbWithoutHash(want));
    if (sameDoc) {
      window.location.hash = new CBN.URL(want).hash;
    } else if (CB_SAME_DOC_KINDS.has(cbNav.kind) && cbSameUrl(new CBN.URL(here).origin, new CBN.URL(want).origin)) {
      History.prototype.pushState.call(window.history, null, '', want);
      window.dispatchEvent(new PopStateEvent('popstate', { state: null }));
    } else {
      cbNav.pendingSince = Date.now();
      window.location.assign(cbToProxy(want));
    }
  });
}

function cbApplyNav(msg) {
  if (!cbForMe(msg)) return;
  if (msg.kind === 'reload' && cbSameUrl(cbRealHref(), msg.url)) {
    cbNav.pendingSince = Date.now();
    window.location.reload();
    return;
  }
  cbFollow(msg.url, msg.kind, CB_NAV_GRACE_MS);
}

// -- scroll -----------------------------------------------------------------------------------

function cbScrollTo(box, left, top) {
  const opts = { left, top, behavior: 'instant' };
  if (box) box.scrollTo(opts);
  else window.scrollTo(opts);
}

function cbApplyScroll(msg) {
  if (!cbForMe(msg)) return;
  const box = msg.target ? cbResolve(msg.target) : null;
  if (msg.target && !box) return;
  let top = Number(msg.y) || 0;
  const anchor = msg.anchor && cbResolve(msg.anchor.path);
  if (anchor && anchor.nodeType === 1 && (!box || box.contains(anchor))) {
    const viewTop = box ? box.getBoundingClientRect().top + box.clientTop : 0;
    const current = box ? box.scrollTop : window.scrollY;
    top = current + anchor.getBoundingClientRect().top - viewTop + (Number(msg.anchor.dy) || 0);
  }
  cbScrollTo(box, Number(msg.x) || 0, Math.max(0, Math.round(top)));
}

// -- clicks, fields, keys, focus, selection -------------------------------------------------

const cbSubmitted = new WeakMap(); // form -> when a replay here submitted it

function cbApplyClick(msg) {
  const el = cbResolve(msg.target);
  if (!el || el.nodeType !== 1) return;
  const [x, y] = cbPointIn(el, msg.ox, msg.oy);
  cbRipple(x, y);
  const init = { bubbles: true, cancelable: true, composed: true, clientX: x, clientY: y, button: Number(msg.button) || 0, view: window };
  for (const type of ['pointerdown', 'mousedown', 'pointerup', 'mouseup']) {
    el.dispatchEvent(type.startsWith('pointer') ? new PointerEvent(type, init) : new MouseEvent(type, init));
  }
  if (typeof el.click === 'function') el.click();
  else el.dispatchEvent(new MouseEvent('click', init));
}

function cbSetValue(el, value) {
  const d = cbNativeValue[el.localName];
  if (d && d.set) d.set.call(el, value);
  else el.value = value;
}

function cbApplyInput(msg) {
  const el = cbResolve(msg.target);
  if (!el || el.nodeType !== 1) return;
  let changed = false;
  if (Array.isArray(msg.selected) && el.localName === 'select') {
    const want = new Set(msg.selected.map(Number));
    Array.from(el.options).forEach((o, i) => {
      if (o.selected !== want.has(i)) { o.selected = want.has(i); changed = true; }
    });
  } else if (typeof msg.checked === 'boolean' && 'checked' in el) {
    if (el.checked !== msg.checked) { cbNativeValue.checked.set.call(el, msg.checked); changed = true; }
  } else if (typeof msg.value === 'string') {
    if (CB_FIELD_TAGS.has(el.localName)) {
      if (el.value !== msg.value) { cbSetValue(el, msg.value); changed = true; }
    } else if (el.isContentEditable && el.innerHTML !== msg.value) {
      el.innerHTML = msg.value;
      changed = true;
    }
  }
  if (changed) { cbFire(el, 'input'); cbFire(el, 'change'); }
  if (Array.isArray(msg.sel) && msg.sel.length === 2 && typeof el.setSelectionRange === 'function') {
    cbTry(() => el.setSelectionRange(Number(msg.sel[0]), Number(msg.sel[1])));
  }
}

function cbApplyKey(msg) {
  const el = (Array.isArray(msg.target) && cbResolve(msg.target)) || document.activeElement || document.body;
  const mods = new Set(Array.isArray(msg.mods) ? msg.mods : []);
  el.dispatchEvent(new KeyboardEvent(msg.phase === 'up' ? 'keyup' : 'keydown', {
    key: String(msg.key || ''), code: String(msg.code || ''), bubbles: true, cancelable: true, composed: true,
    ctrlKey: mods.has('ctrl'), shiftKey: mods.has('shift'), altKey: mods.has('alt'), metaKey: mods.has('meta'),
  }));
}

function cbApplyFocus(msg) {
  const el = cbResolve(msg.target);
  if (el && typeof el.focus === 'function') el.focus({ preventScroll: true });
}

function cbApplySelect(msg) {
  const sel = document.getSelection();
  if (!sel) return;
  if (!msg.anchor || !msg.focus) {
    const active = document.activeElement;
    if (!(active && CB_FIELD_TAGS.has(active.localName))) sel.removeAllRanges();
    return;
  }
  const a = cbResolve(msg.anchor.path);
  const f = cbResolve(msg.focus.path);
  if (!a || !f) return;
  const clamp = (node, offset) => Math.min(Number(offset) || 0, node.nodeType === 3 ? node.length : node.childNodes.length);
  sel.setBaseAndExtent(a, clamp(a, msg.anchor.offset), f, clamp(f, msg.focus.offset));
}

function cbApplyMedia(msg) {
  const el = cbResolve(msg.target);
  if (!(el instanceof HTMLMediaElement)) return;
  const time = Number(msg.time);
  if (Number.isFinite(time) && Math.abs(el.currentTime - time) > 0.5) el.currentTime = time;
  if (msg.action === 'play' && el.paused) el.play().catch(() => { /* autoplay policy: the toolbar can't help */ });
  if (msg.action === 'pause' && !el.paused) el.pause();
}

function cbApplySubmit(msg) {
  const form = cbResolve(msg.target);
  if (!(form instanceof HTMLFormElement)) return;
  const at = cbSubmitted.get(form);
  if (at && Date.now() - at < CB_SUBMIT_DEDUPE_MS) return; // the replayed click already sent it
  cbSubmitted.set(form, Date.now());
  cbNav.pendingSince = Date.now();
  HTMLFormElement.prototype.submit.call(form);
}

// A submission this page makes while replaying (a replayed click on a submit button).
if (cbSync.on) {
  document.addEventListener('submit', (e) => {
    if (cbSync.applying > 0 && !e.defaultPrevented && e.target instanceof HTMLFormElement) cbSubmitted.set(e.target, Date.now());
  }, true);
}

// type -> [apply, input?]: input kinds are applied only by those not in control.
const CB_APPLY = {
  nav: [cbApplyNav, true],
  scroll: [cbApplyScroll, true],
  click: [cbApplyClick, true],
  input: [cbApplyInput, true],
  key: [cbApplyKey, true],
  focus: [cbApplyFocus, true],
  select: [cbApplySelect, true],
  media: [cbApplyMedia, true],
  submit: [cbApplySubmit, true],
};

for (const [type, [apply, isInput]] of Object.entries(CB_APPLY)) {
  cbSyncOn(type, (msg) => {
    if (isInput && cbSyncInControl()) return;
    cbApplying(() => apply(msg));
    cbAfterApply();
  });
}

/** Parts that care (drift, s70) hook here: called after each applied message. */
const cbAfterApplyHooks = [];
function cbAfterApply() {
  for (const fn of cbAfterApplyHooks) cbTry(fn);
}
