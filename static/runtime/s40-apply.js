/* cobrowse runtime, part s40: apply what the participant in control did, here.
 *
 * Job: for each relayed input message, find the element by its path and do the same thing
 * the way a page notices it: real clicks (el.click(), after mousedown/mouseup), values through
 * the native setters followed by `input`/`change` events (frameworks track both), dispatched
 * KeyboardEvents, focus, selection ranges, media calls, scroll anchored to an element, and
 * navigation when this page's URL still differs after a short grace.
 * Keys and editors: a key is dispatched as keydown (with the legacy keyCode, which CodeMirror 5
 * and Ace choose commands by), keypress for a character, keyup; when the page did not prevent
 * it and the key edits text (a character, Backspace, Delete, Enter) in the field that has focus,
 * the edit is then made as the browser makes it: `beforeinput` (inputType, data, target range),
 * then execCommand, which edits at the caret and fires a trusted `input` with the inputType
 * (on an element with an EditContext, Monaco's in Chromium: updateText and `textupdate`).
 * The key's field takes focus first when it has not (the visitor clicked elsewhere, or the
 * page here built the editor after the `focus` message came: Monaco builds its parts lazily).
 * Evidence (Datasette's CodeMirror 5 on a follower): the typed text arrived only as values of
 * its hidden textarea, which the editor resets by script (so a value is its scratch state, not
 * its text), and Ctrl+A/Delete did nothing since the dispatched keys had keyCode 0; editors that
 * draw their own text read only edits in the focused field (CodeMirror 5, Monaco, Ace: their
 * textarea on `input`; CodeMirror 6, ProseMirror: DOM changes of their contenteditable; Lexical,
 * Slate: `beforeinput`). The controller sends its caret before each key (s30), so the edit lands
 * where its own did; the `input` value that follows is then equal and changes nothing, and
 * stays the correction for plain fields (and the only path for text without keys: paste, IME).
 * Forms: a participant not in control never submits one (replayed click or key, the page's own
 * script, a `submit` message): its copy lacks what is not synced (masked fields), and the
 * target must get the controller's request once. The submission is cancelled when it would
 * navigate (the Navigation API's `navigate` event) and this page follows the controller's
 * resulting navigation instead (the `nav` its next page sends, or the server sends for a page
 * with no runtime), served from the response store; a same-URL result (a form posting to its
 * own page) reloads this page. A submission the page handles itself (preventDefault, then
 * fetch) is the page's business and goes ahead as on the controller.
 * Invariants: everything runs inside cbApplying (nothing is captured back); the controller
 * never applies input messages (a stale one that crosses a control change is dropped);
 * messages for another window are ignored; a value already equal is not set again (no
 * duplicate events for pages that watch them); a navigation the page is already making (the
 * replayed click on a link) is not started a second time.
 * Nothing received is ever evaluated or parsed into the live document: a navigation target
 * must be an http(s) URL that maps into this session's proxy space (cbNavTarget; the server
 * checks the same, this is the second lock), and contentEditable markup is rebuilt from an
 * inert DOMParser document through an allow-list (CB_RICH_TAGS): no script, frames, plugins,
 * styles, event-handler attributes or URLs outside the proxy space survive. A key's edit inserts
 * only the key's own character (or a line break, or deletes one), and only in the field that
 * has focus here and is not masked.
 */
const CB_NAV_GRACE_MS = 700;
const CB_NAV_PENDING_MS = 15000;
const CB_SUBMIT_HELD_MS = 15000;
// <input> types whose text the browser edits in place (execCommand works on them).
const CB_TEXT_INPUTS = new Set(['text', 'search', 'url', 'tel', 'email']);

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

const cbNav = { want: '', kind: '', timer: 0, pendingSince: 0, heldSubmit: 0 };

/** Whether this page follows someone else (before the welcome: unless it is the leader's). */
function cbFollowing() {
  if (!cbSync.on || !cbSync.me || cbSync.status === 'ended') return false;
  return cbSync.controller ? cbSync.controller !== cbSync.me.id : cbSync.me.role !== 'leader';
}

function cbIsFormSubmission(e) {
  const source = e.sourceElement;
  return !!e.formData || (!!source && (source.localName === 'form' || !!source.form));
}

// A cross-document navigation this page has started (replayed link click, page script, form):
// the Navigation API announces it before the request goes out. A follower's form submission
// is cancelled here (see the header).
cbTry(() => {
  if (!cbSync.on || !window.navigation) return;
  window.navigation.addEventListener('navigate', (e) => {
    if (e.hashChange || !e.destination || e.destination.sameDocument) return;
    if (e.cancelable && cbFollowing() && cbIsFormSubmission(e)) {
      e.preventDefault();
      cbNav.heldSubmit = Date.now();
      cbSync.counters.held += 1;
      return;
    }
    cbNav.pendingSince = Date.now();
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

// A serialised http(s) URL, as URL.href gives it: no controls, spaces or backslash before the query.
const CB_PLAIN_WEB_URL = /^https?:\/\/[^\\\u0000-\u0020\u007f/?#]+(?:[/?#][^\u0000-\u0020\u007f]*)?$/i;

/** The proxy URL of a received real URL, or '' when it is not an http(s) URL of this session's
 * proxy space (javascript:, data:, blob:, a proxy or control-plane host, an odd spelling). */
function cbNavTarget(url) {
  if (typeof url !== 'string' || url.length > 8192 || !CB_PLAIN_WEB_URL.test(url)) return '';
  if (/^[^?#]*\\/.test(url)) return '';
  return cbTry(() => {
    const real = new CBN.URL(url);
    const origin = cbOriginOfUrl(real);
    if (!origin || (real.protocol !== 'http:' && real.protocol !== 'https:') || cbIsProxyHost(real.hostname)) return '';
    const mapped = new CBN.URL(cbToProxy(url));
    const back = mapped.protocol === CB.scheme + ':' ? cbOriginForHost(mapped.hostname) : null;
    return back && cbOriginString(back) === cbOriginString(origin) ? mapped.href : '';
  }, '');
}

/** Follow the controller to `url` unless this page gets there by itself within the grace. */
function cbFollow(url, kind, graceMs) {
  if (typeof url !== 'string' || !url) return;
  if (!cbNavTarget(url)) { cbSync.counters.refused += 1; return; }
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
  const target = cbNavTarget(want);
  if (!target || cbSameUrl(here, want)) return;
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
      window.location.assign(target);
    }
  });
}

function cbApplyNav(msg) {
  if (!cbForMe(msg)) return;
  const heldSubmit = cbNav.heldSubmit > 0 && Date.now() - cbNav.heldSubmit < CB_SUBMIT_HELD_MS;
  if (heldSubmit && msg.kind === 'load') cbNav.heldSubmit = 0;
  // A reload, or the page a form posted to its own URL: this document is not the controller's.
  if ((msg.kind === 'reload' || (heldSubmit && msg.kind === 'load')) && cbSameUrl(cbRealHref(), msg.url)) {
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
  if (typeof msg.masked === 'boolean') { cbShowMasked(el, msg.masked); return; }
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
      el.replaceChildren(cbInertRichText(msg.value));
      changed = true;
    }
  }
  if (changed) { cbFire(el, 'input'); cbFire(el, 'change'); }
  if (Array.isArray(msg.sel) && msg.sel.length === 2 && typeof el.setSelectionRange === 'function') {
    cbTry(() => el.setSelectionRange(Number(msg.sel[0]), Number(msg.sel[1])));
  }
}

const CB_MASKED_PLACEHOLDER = '•••••••• (private)';
const cbOwnPlaceholders = new WeakMap(); // field -> its placeholder before a masked one was shown

/** The controller filled (or emptied) a masked field: its value never comes; a placeholder says so. */
function cbShowMasked(el, filled) {
  if (!CB_FIELD_TAGS.has(el.localName) || el.localName === 'select') return;
  if (el.value !== '') cbSetValue(el, '');
  if (!cbOwnPlaceholders.has(el)) cbOwnPlaceholders.set(el, CBN.getAttribute.call(el, 'placeholder'));
  const own = cbOwnPlaceholders.get(el);
  if (filled) CBN.setAttribute.call(el, 'placeholder', CB_MASKED_PLACEHOLDER);
  else if (own === null) el.removeAttribute('placeholder');
  else CBN.setAttribute.call(el, 'placeholder', own);
}

// -- contentEditable markup, rebuilt inert -----------------------------------------------------

// tag -> its attributes kept (besides CB_RICH_ANY). Tags not listed are unwrapped (their text
// stays); CB_RICH_DROP go whole, content too. No on* attribute, style or srcdoc is ever listed.
const CB_RICH_ANY = ['title', 'dir', 'lang', 'class'];
const CB_RICH_TAGS = {
  a: ['href', 'target', 'rel'], abbr: [], b: [], bdi: [], bdo: [], blockquote: ['cite'], br: [], caption: [],
  cite: [], code: [], dd: [], del: [], dfn: [], div: [], dl: [], dt: [], em: [], figcaption: [], figure: [],
  font: ['color', 'face', 'size'], h1: [], h2: [], h3: [], h4: [], h5: [], h6: [], hr: [], i: [],
  img: ['src', 'alt', 'width', 'height'], ins: [], kbd: [], li: ['value'], mark: [], ol: ['start', 'type', 'reversed'],
  p: [], pre: [], q: ['cite'], s: [], samp: [], small: [], span: [], strike: [], strong: [], sub: [], sup: [],
  table: [], tbody: [], td: ['colspan', 'rowspan'], tfoot: [], th: ['colspan', 'rowspan', 'scope'], thead: [],
  tr: [], u: [], ul: [], var: [], wbr: [],
};
const CB_RICH_DROP = new Set(['script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet',
  'template', 'noscript', 'svg', 'math', 'link', 'meta', 'base', 'title', 'form', 'input', 'button', 'select',
  'textarea', 'option', 'video', 'audio', 'source', 'track', 'canvas', 'portal', 'xmp', 'noembed', 'noframes']);
// Attributes holding a URL: kept only when it is a page of this session's proxy space.
const CB_RICH_URL_ATTRS = new Set(['href', 'src', 'cite']);
const CB_RICH_MAX_DEPTH = 64;

/** A received URL attribute as a proxy URL of this session, or '' (then the attribute goes). */
function cbRichUrl(value) {
  return cbTry(() => {
    const u = new CBN.URL(value, document.baseURI);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
    if (cbOriginForHost(u.hostname)) return u.href; // the controller's DOM holds proxy URLs
    return cbNavTarget(u.href);
  }, '');
}

/** A fragment of this document built from received markup: parsed in an inert document (no
 * script runs, nothing loads), then copied node by node through the allow-list. */
function cbInertRichText(markup) {
  const out = document.createDocumentFragment();
  const parsed = cbTry(() => new DOMParser().parseFromString(String(markup), 'text/html'), null);
  if (parsed && parsed.body) cbCopyInert(parsed.body, out, 0);
  return out;
}

function cbCopyInert(from, to, depth) {
  for (const node of Array.from(from.childNodes)) {
    if (node.nodeType === 3) { to.appendChild(document.createTextNode(node.data)); continue; }
    if (node.nodeType !== 1 || depth >= CB_RICH_MAX_DEPTH) continue;
    const tag = node.localName;
    if (CB_RICH_DROP.has(tag) || node.namespaceURI !== 'http://www.w3.org/1999/xhtml') continue;
    const allowed = Object.prototype.hasOwnProperty.call(CB_RICH_TAGS, tag) ? CB_RICH_TAGS[tag] : null;
    if (allowed === null) { cbCopyInert(node, to, depth + 1); continue; }
    const copy = document.createElement(tag);
    for (const name of CB_RICH_ANY.concat(allowed)) {
      const value = node.getAttribute(name);
      if (value === null) continue;
      const safe = CB_RICH_URL_ATTRS.has(name) ? cbRichUrl(value) : value;
      if (safe) CBN.setAttribute.call(copy, name, safe);
    }
    if (tag === 'a' && copy.hasAttribute('target')) CBN.setAttribute.call(copy, 'rel', 'noopener noreferrer');
    cbCopyInert(node, copy, depth + 1);
    to.appendChild(copy);
  }
}

// Legacy `keyCode` by physical key (US layout, as Chromium reports it): editors that predate
// `key` (CodeMirror 5, Ace, older Monaco) pick their commands by it, and a constructed
// KeyboardEvent has 0 unless given one.
const CB_KEY_CODES = {
  Backspace: 8, Tab: 9, Enter: 13, NumpadEnter: 13, ShiftLeft: 16, ShiftRight: 16, ControlLeft: 17, ControlRight: 17,
  AltLeft: 18, AltRight: 18, Pause: 19, CapsLock: 20, Escape: 27, Space: 32, PageUp: 33, PageDown: 34, End: 35,
  Home: 36, ArrowLeft: 37, ArrowUp: 38, ArrowRight: 39, ArrowDown: 40, Insert: 45, Delete: 46, MetaLeft: 91,
  MetaRight: 92, ContextMenu: 93, Semicolon: 186, Equal: 187, Comma: 188, Minus: 189, Period: 190, Slash: 191,
  Backquote: 192, BracketLeft: 219, Backslash: 220, BracketRight: 221, Quote: 222,
};

function cbKeyCode(code, key) {
  const m = /^(?:Key([A-Z])|Digit([0-9])|Numpad([0-9])|F([0-9]{1,2}))$/.exec(code);
  if (m) {
    if (m[1]) return m[1].charCodeAt(0);
    if (m[2]) return 48 + Number(m[2]);
    return m[3] ? 96 + Number(m[3]) : 111 + Number(m[4]);
  }
  if (CB_KEY_CODES[code]) return CB_KEY_CODES[code];
  return key.length === 1 && /[a-z0-9]/i.test(key) ? key.toUpperCase().charCodeAt(0) : 0;
}

// A key's text edit, made the way the browser makes it when the page did not prevent the key
// (see the header): `beforeinput`, then execCommand unless that was prevented (Chromium fires no
// beforeinput for execCommand, hence ours). key -> [[inputType, command, text] in a textarea or
// text input, [...] in a contenteditable] ("Shift+" first when shift is down); a printable key
// inserts itself; Enter in an <input>
// edits nothing (it submits there, and followers never submit).
const CB_KEY_EDITS = {
  Backspace: [['deleteContentBackward', 'delete'], ['deleteContentBackward', 'delete']],
  Delete: [['deleteContentForward', 'forwardDelete'], ['deleteContentForward', 'forwardDelete']],
  Enter: [['insertLineBreak', 'insertText', '\n'], ['insertParagraph', 'insertParagraph']],
  'Shift+Enter': [['insertLineBreak', 'insertText', '\n'], ['insertLineBreak', 'insertLineBreak']],
};

// An element with an EditContext (Monaco in Chromium) gets no DOM edit: the browser hands the
// text to the EditContext (updateText, then a `textupdate` event the page reads). inputType ->
// characters a collapsed caret takes [before, after]; other edits (Enter: insertParagraph) are
// the page's own, from `beforeinput`.
const CB_CONTEXT_REACH = { insertText: [0, 0], deleteContentBackward: [1, 0], deleteContentForward: [0, 1] };

function cbEditable(el) {
  if (!el || el.nodeType !== 1 || cbMasked(el)) return '';
  if (el.localName === 'textarea') return 'text';
  if (el.localName === 'input') return CB_TEXT_INPUTS.has(el.type) ? 'line' : '';
  if (el.editContext && typeof TextUpdateEvent === 'function') return 'context';
  return el.isContentEditable ? 'rich' : '';
}

function cbContextEdit(ctx, inputType, text) {
  const reach = CB_CONTEXT_REACH[inputType];
  if (!reach) return;
  let start = Math.min(ctx.selectionStart, ctx.selectionEnd);
  let end = Math.max(ctx.selectionStart, ctx.selectionEnd);
  if (start === end) [start, end] = [Math.max(0, start - reach[0]), Math.min(ctx.text.length, end + reach[1])];
  const data = inputType === 'insertText' ? text : '';
  const caret = start + data.length;
  ctx.updateText(start, end, data);
  ctx.updateSelection(caret, caret);
  ctx.dispatchEvent(new TextUpdateEvent('textupdate', {
    text: data, updateRangeStart: start, updateRangeEnd: end, selectionStart: caret, selectionEnd: caret,
  }));
}

function cbTargetRanges() {
  const sel = document.getSelection();
  if (!sel || sel.rangeCount === 0) return [];
  const r = sel.getRangeAt(0);
  return [new StaticRange({ startContainer: r.startContainer, startOffset: r.startOffset,
    endContainer: r.endContainer, endOffset: r.endOffset })];
}

/** The key's default text edit, in the focused field only (where the controller's went). */
function cbKeyEdit(el, key, mods) {
  if (mods.has('ctrl') || mods.has('alt') || mods.has('meta') || el !== cbDeepActive()) return;
  const kind = cbEditable(el);
  if (!kind || el.readOnly || (kind === 'line' && key === 'Enter')) return;
  const named = (mods.has('shift') && CB_KEY_EDITS['Shift+' + key]) || CB_KEY_EDITS[key];
  const inField = kind === 'text' || kind === 'line';
  const edit = key.length === 1 ? ['insertText', 'insertText', key] : named && named[inField ? 0 : 1];
  if (!edit) return;
  const [inputType, command, text] = edit;
  const before = new InputEvent('beforeinput', {
    inputType, data: inputType === 'insertText' ? text : null, targetRanges: inField ? [] : cbTargetRanges(),
    bubbles: true, cancelable: true, composed: true,
  });
  if (!el.dispatchEvent(before)) return;
  if (kind === 'context') cbContextEdit(el.editContext, inputType, text);
  else document.execCommand(command, false, text === undefined ? null : text);
}

function cbDeepActive() {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el;
}

function cbApplyKey(msg) {
  const el = (Array.isArray(msg.target) && cbResolve(msg.target)) || cbDeepActive() || document.body;
  const mods = new Set(Array.isArray(msg.mods) ? msg.mods : []);
  const key = String(msg.key || '');
  const code = String(msg.code || '');
  const keyCode = cbKeyCode(code, key);
  const down = msg.phase !== 'up';
  // A key goes to the focused element: the controller's field had focus, so this one takes it
  // (its `focus` message may have come before the page here had built it).
  const field = Array.isArray(msg.target) ? cbFieldOf(el) || el : null;
  if (down && field && cbEditable(field) && field !== cbDeepActive()) field.focus({ preventScroll: true });
  const go = el.dispatchEvent(new KeyboardEvent(down ? 'keydown' : 'keyup', {
    key, code, keyCode, which: keyCode, bubbles: true, cancelable: true, composed: true,
    ctrlKey: mods.has('ctrl'), shiftKey: mods.has('shift'), altKey: mods.has('alt'), metaKey: mods.has('meta'),
  }));
  if (!down || !go) return;
  // A printable key goes through keypress first, as in the browser; preventing it cancels the edit.
  const typed = key.length === 1 && !mods.has('ctrl') && !mods.has('meta');
  if (typed && !el.dispatchEvent(new KeyboardEvent('keypress', {
    key, code, keyCode: key.charCodeAt(0), charCode: key.charCodeAt(0), which: key.charCodeAt(0),
    bubbles: true, cancelable: true, composed: true, shiftKey: mods.has('shift'), altKey: mods.has('alt'),
  }))) return;
  cbKeyEdit(field || el, key, mods);
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
  // `submit` is not applied: followers never submit (see the header); its `nav` follows.
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
