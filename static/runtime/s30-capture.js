/* cobrowse runtime, part s30: capture what the participant in control does.
 *
 * Job: turn the controller's own actions into protocol messages: navigation (page load,
 * pushState/replaceState, popstate, hash changes, reload), scroll of the window and of
 * scrollable elements (with an element anchor), clicks, field input with caret, focus, text
 * selection, keys, media play/pause/seek and form submission. The pointer is sent by everyone
 * (it is shown, not replayed). Storage and windows are captured in part s60.
 * Invariants: only trusted events are captured (what page scripts synthesise, the page does
 * again on every participant by itself), except field values, which are idempotent state; nothing is sent while a replay is being applied
 * (cbCapturing() is false then) nor by anyone not in control; events from the toolbar never
 * leave it; masked fields and what hidden elements hold (part s25: passwords, payment cards,
 * [data-cobrowse-mask], the session's selectors) send neither value nor keys, only whether a
 * masked field is filled (`masked`, for the followers' placeholder);
 * continuous streams (scroll, pointer, selection) are coalesced to one message per interval,
 * but a keydown first sends the caret or selection if it moved since the last message (a
 * follower makes the key's text edit at its own caret, s40: editors that draw their own text
 * take it only that way, not from a value).
 */
const CB_POINTER_MS = 40;
const CB_SCROLL_MS = 50;
const CB_SELECTION_MS = 100;
const CB_FIELD_TAGS = new Set(['input', 'textarea', 'select']);
const CB_UNSYNCED_INPUTS = new Set(['file', 'password', 'hidden']);
const CB_CHECKABLE = new Set(['checkbox', 'radio']);
const CB_MODS = [['ctrlKey', 'ctrl'], ['shiftKey', 'shift'], ['altKey', 'alt'], ['metaKey', 'meta']];
const CB_NAV_KIND = { reload: 'reload' }; // navigation timing type -> nav kind ("load" otherwise)

/** A function that calls fn(key, value) at once for the first event of a burst, then at most
 *  once per `ms` per key with the latest value (trailing edge kept): no added delay for a
 *  single action, bounded message rate for a stream of them. */
function cbCoalesce(ms, fn) {
  const windows = new Map();
  return (key, value) => {
    const open = windows.get(key);
    if (open) {
      open.dirty = true;
      open.value = value;
      return;
    }
    const state = { dirty: false, value };
    windows.set(key, state);
    cbTry(() => fn(key, value));
    const close = () => {
      if (!state.dirty) {
        windows.delete(key);
        return;
      }
      state.dirty = false;
      cbTry(() => fn(key, state.value));
      setTimeout(close, ms);
    };
    setTimeout(close, ms);
  };
}

/** The innermost element an event happened on that a path can name: inside an open shadow
 *  tree that is the tree's host (as the document sees it), since paths stop at shadow roots. */
function cbTargetElement(e) {
  const t = e.composedPath ? e.composedPath()[0] : e.target;
  const inner = t && t.nodeType === 3 ? t.parentNode : t;
  return inner && inner.getRootNode && inner.getRootNode() !== document ? e.target : inner;
}

function cbFromUi(e) {
  return cbInUi(e.target);
}

/** Masked fields and what hidden elements hold (part s25): neither values nor keys are sent. */
function cbMasked(el) {
  return cbPrivate(el);
}

function cbMods(e) {
  return CB_MODS.filter(([prop]) => e[prop]).map(([, name]) => name);
}

// -- fields -----------------------------------------------------------------------------------

/** The field an event happened in: an input/textarea/select, or a contenteditable's host. */
function cbFieldOf(node) {
  let el = node && node.nodeType === 3 ? node.parentNode : node;
  if (!el || el.nodeType !== 1) return null;
  if (CB_FIELD_TAGS.has(el.localName)) {
    return el.localName === 'input' && CB_UNSYNCED_INPUTS.has(el.type) ? null : el;
  }
  if (!el.isContentEditable) return null;
  while (el.parentElement && el.parentElement.isContentEditable) el = el.parentElement;
  return el;
}

function cbCaret(el) {
  return cbTry(() => (typeof el.selectionStart === 'number' ? [el.selectionStart, el.selectionEnd] : null), null);
}

/** The protocol's value fields for a field: value+sel, checked, or selected (option indexes). */
function cbFieldValue(el) {
  if (el.localName === 'select') {
    return { selected: Array.from(el.options).flatMap((o, i) => (o.selected ? [i] : [])) };
  }
  if (el.localName === 'input' && CB_CHECKABLE.has(el.type)) return { checked: el.checked };
  if (el.localName === 'input' || el.localName === 'textarea') {
    const sel = cbCaret(el);
    return sel ? { value: el.value, sel } : { value: el.value };
  }
  return { value: el.innerHTML };
}

const cbLastField = new WeakMap(); // field -> JSON of what was last sent for it

function cbSendField(el) {
  if (!el || cbMasked(el)) return;
  const path = cbPathOf(el);
  if (!path) return;
  const fields = cbFieldValue(el);
  const json = JSON.stringify(fields);
  if (cbLastField.get(el) === json) return;
  cbLastField.set(el, json);
  cbSyncSend(Object.assign({ type: 'input', target: path }, fields));
}

// Field values are state, not actions: replaying one the follower already has changes
// nothing (s40 skips equal values), so scripted changes (widgets, autofill) are sent too.
function cbOnInput(e) {
  if (!cbCapturing() || cbFromUi(e)) return;
  const target = cbTargetElement(e);
  if (cbMasked(target)) cbSendMasked(target);
  else cbSendField(cbFieldOf(target));
}

/** A masked field's only news: whether it holds something (followers show a placeholder). */
function cbSendMasked(el) {
  if (!el || !CB_FIELD_TAGS.has(el.localName) || el.localName === 'select') return;
  const path = cbPathOf(el);
  if (!path) return;
  const filled = typeof el.value === 'string' && el.value !== '';
  const json = 'masked ' + filled;
  if (cbLastField.get(el) === json) return;
  cbLastField.set(el, json);
  cbSyncSend({ type: 'input', target: path, masked: filled });
}

// -- text selection and carets ------------------------------------------------------------------

function cbSelectionPoint(node, offset) {
  const path = cbPathOf(node);
  return path ? { path, offset } : null;
}

let cbLastSelection = '';

/** Send where the caret or selection is now, unless that was the last thing sent: in a field,
 *  its value and caret; elsewhere the document selection. */
function cbFlushSelection() {
  if (!cbCapturing()) return;
  const active = document.activeElement;
  const field = active && CB_FIELD_TAGS.has(active.localName) ? cbFieldOf(active) : null;
  if (field) { cbSendField(field); return; }
  const sel = document.getSelection();
  if (!sel || cbInUi(sel.anchorNode)) return;
  const empty = sel.rangeCount === 0 || (sel.isCollapsed && !(active && active.isContentEditable));
  const msg = empty
    ? { type: 'select', anchor: null, focus: null }
    : { type: 'select', anchor: cbSelectionPoint(sel.anchorNode, sel.anchorOffset),
      focus: cbSelectionPoint(sel.focusNode, sel.focusOffset) };
  if (!empty && (!msg.anchor || !msg.focus)) return;
  const json = JSON.stringify(msg);
  if (json === cbLastSelection) return;
  cbLastSelection = json;
  cbSyncSend(msg);
}

const cbSendSelection = cbCoalesce(CB_SELECTION_MS, cbFlushSelection);

// -- clicks, keys, focus, pointer -----------------------------------------------------------

function cbOnClick(e) {
  if (!cbCapturing() || !e.isTrusted || cbFromUi(e)) return;
  const el = cbTargetElement(e);
  const path = cbPathOf(el);
  if (!path) return;
  const [ox, oy] = cbFractionIn(el, e.clientX, e.clientY);
  cbSyncSend({ type: 'click', target: path, ox, oy, button: e.button });
}

function cbOnKey(e) {
  if (!cbCapturing() || !e.isTrusted || cbFromUi(e)) return;
  const el = cbTargetElement(e);
  if (cbMasked(el)) return;
  const target = cbPathOf(el);
  if (!target && el !== document.body && el !== document.documentElement) return;
  // The caret first (its coalesced message may still be waiting): a follower makes the key's
  // text edit where its caret is (s40), so it must be where the controller's is now.
  if (e.type === 'keydown') cbFlushSelection();
  cbSyncSend({
    type: 'key', target, key: e.key, code: e.code, mods: cbMods(e), phase: e.type === 'keydown' ? 'down' : 'up',
  });
}

function cbOnFocus(e) {
  if (!cbCapturing() || !e.isTrusted || cbFromUi(e)) return;
  const path = cbPathOf(cbTargetElement(e));
  if (path) cbSyncSend({ type: 'focus', target: path });
}

const cbSendPointer = cbCoalesce(CB_POINTER_MS, (key, e) => {
  if (!cbSync.on || cbSync.status !== 'connected' || cbSync.participants.length < 2) return;
  const el = cbTargetElement(e);
  const path = el && !cbInUi(el) ? cbPathOf(el) : null;
  const [ox, oy] = path ? cbFractionIn(el, e.clientX, e.clientY) : [0, 0];
  cbSyncSend({ type: 'pointer', x: Math.round(e.clientX), y: Math.round(e.clientY), target: path, ox, oy });
});

// -- scroll -----------------------------------------------------------------------------------

function cbUnpinned(el, stop) {
  for (let n = el; n && n !== stop && n.nodeType === 1; n = n.parentElement) {
    const pos = getComputedStyle(n).position;
    if (pos === 'fixed' || pos === 'sticky') return false;
  }
  return true;
}

/** The element at the top of the viewport (or of a scroll box) and the offset into it. */
function cbScrollAnchor(box) {
  const r = box ? box.getBoundingClientRect() : { left: 0, top: 0, width: window.innerWidth, height: window.innerHeight };
  const top = box ? r.top + box.clientTop : 0;
  for (const fy of [1, 24, 64]) {
    for (const fx of [0.5, 0.25, 0.75]) {
      if (fy >= r.height) continue;
      const el = document.elementFromPoint(r.left + r.width * fx, top + fy);
      if (!el || el === box || cbInUi(el) || (box ? !box.contains(el) : el === document.body || el === document.documentElement)) continue;
      if (!cbUnpinned(el, box || document.body)) continue;
      const path = cbPathOf(el);
      if (path) return { path, dy: Math.round(top - el.getBoundingClientRect().top) };
    }
  }
  return null;
}

const cbSendScroll = cbCoalesce(CB_SCROLL_MS, (key, box) => {
  if (!cbCapturing()) return;
  const isWindow = box === null;
  const target = isWindow ? null : cbPathOf(box);
  if (!isWindow && !target) return;
  const x = Math.round(isWindow ? window.scrollX : box.scrollLeft);
  const y = Math.round(isWindow ? window.scrollY : box.scrollTop);
  cbSyncSend({ type: 'scroll', target, x, y, anchor: cbScrollAnchor(box) });
});

function cbOnScroll(e) {
  if (!cbCapturing()) return;
  const t = e.target;
  const box = t === document || t === document.documentElement || t === document.scrollingElement ? null : t;
  if (box && (box.nodeType !== 1 || cbInUi(box))) return;
  cbSendScroll(box || 'window', box);
}

// -- media and forms ----------------------------------------------------------------------------

function cbOnMedia(e) {
  if (!cbCapturing()) return;
  const el = e.target;
  if (!(el instanceof HTMLMediaElement)) return;
  const path = cbPathOf(el);
  const action = e.type === 'seeked' ? 'seek' : e.type;
  const time = Number.isFinite(el.currentTime) ? el.currentTime : 0;
  if (path) cbSyncSend({ type: 'media', target: path, action, time });
}

function cbSendSubmit(form) {
  const path = cbPathOf(form);
  if (path) cbSyncSend({ type: 'submit', target: path });
}

function cbOnSubmit(e) {
  if (!cbCapturing() || cbFromUi(e)) return;
  const form = e.target;
  // Only a submission that goes ahead navigates; an SPA that prevents it is replayed by the
  // page itself on the others (through the replayed click or keys).
  setTimeout(() => { if (!e.defaultPrevented) cbSendSubmit(form); }, 0);
}

if (cbSync.on) {
  cbPatchMethod(HTMLFormElement.prototype, 'submit', function (args) {
    if (cbCapturing()) cbSendSubmit(this);
    return args;
  });
}

// -- navigation -------------------------------------------------------------------------------

function cbSendNav(kind) {
  if (cbCapturing()) cbSyncSend({ type: 'nav', url: cbRealHref(), kind });
}

function cbLoadKind() {
  const entry = cbTry(() => performance.getEntriesByType('navigation')[0], null);
  return (entry && CB_NAV_KIND[entry.type]) || 'load';
}

for (const [name, kind] of cbSync.on ? [['pushState', 'push'], ['replaceState', 'replace']] : []) {
  cbPatchMethod(History.prototype, name, null, (result) => {
    cbSendNav(kind);
    return result;
  });
}

let cbAnnounced = false;
cbSyncOn('welcomed', () => {
  // Each page says where it is once, when it first learns it is in control.
  if (cbAnnounced || !cbCapturing()) return;
  cbAnnounced = true;
  cbSendNav(cbLoadKind());
});
cbSyncOn('control', () => {
  if (!cbCapturing()) return;
  cbAnnounced = true;
  cbSendNav('here');  // where the new controller is: no new document, so the page's state stays
  cbSendScroll('window', null);
});

if (cbSync.on) {
  const opts = { capture: true, passive: true };
  document.addEventListener('click', (e) => cbTry(() => cbOnClick(e)), opts);
  document.addEventListener('input', (e) => cbTry(() => cbOnInput(e)), opts);
  document.addEventListener('change', (e) => cbTry(() => cbOnInput(e)), opts);
  document.addEventListener('keydown', (e) => cbTry(() => cbOnKey(e)), opts);
  document.addEventListener('keyup', (e) => cbTry(() => cbOnKey(e)), opts);
  document.addEventListener('focusin', (e) => cbTry(() => cbOnFocus(e)), opts);
  document.addEventListener('scroll', (e) => cbTry(() => cbOnScroll(e)), opts);
  document.addEventListener('selectionchange', () => { if (cbCapturing()) cbSendSelection('s', null); }, opts);
  document.addEventListener('submit', (e) => cbTry(() => cbOnSubmit(e)), { capture: true });
  for (const type of ['play', 'pause', 'seeked']) document.addEventListener(type, (e) => cbTry(() => cbOnMedia(e)), opts);
  window.addEventListener('pointermove', (e) => { if (e.isTrusted) cbSendPointer('p', e); }, opts);
  window.addEventListener('popstate', () => cbTry(() => cbSendNav('pop')), opts);
  window.addEventListener('hashchange', () => cbTry(() => cbSendNav('hash')), opts);
}
