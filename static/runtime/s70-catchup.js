/* cobrowse runtime, part s70: catching up from session state, and drift.
 *
 * Job: apply the server's `state` (in `welcome` for a fresh page, or instead of a replay
 * when a reconnect's gap is gone): who is in control, the controller's URL for this window
 * (followed after the usual grace), and, when this page is at that URL, the form values,
 * scroll positions and page storage. Then keep checking: every few seconds, and soon after
 * applied messages, send a `digest` of the visible document; on `drift` reload this page
 * (it is answered from the response store) and catch up from state again.
 * Invariants: the participant in control never applies state to itself (it is the source);
 * form values and scroll are applied only on the controller's URL (they belong to that page);
 * the digest ignores scripts, styles, templates, hidden elements, masked field values and the
 * toolbar (outside <body> anyway), and collapses whitespace, so equal documents hash equal on
 * any window size; it is sent only once the page has been quiet (nothing captured or applied)
 * for CB_DIGEST_QUIET_MS, so a follower a few messages behind is not taken for drifted;
 * a drift reload happens at most once per CB_DRIFT_MIN_MS for a page URL, and never to a page
 * that opened a target WebSocket (counted as `kept`): what came over the socket is gone, and the
 * page reloaded from the store would come back without it (a notebook without its cell's output).
 */
const CB_DIGEST_EVERY_MS = 2000;
const CB_DIGEST_RESEND_MS = 4000;
const CB_DIGEST_AFTER_APPLY_MS = 500;
const CB_DIGEST_QUIET_MS = 1000; // only a settled document is compared (not one mid-typing)
const CB_DRIFT_MIN_MS = 30000;
const CB_DRIFT_KEY = '__cb_drift';
const CB_DIGEST_SKIP = new Set(['script', 'style', 'noscript', 'template', CB_UI_TAG]);
const CB_LATE_SCROLL_MS = [0, 300];

// -- state --------------------------------------------------------------------------------------

/** Entries of a state map or list: [[key, value], ...] whatever shape the server chose. */
function cbEntries(value) {
  if (Array.isArray(value)) return value.map((v, i) => [i, v]);
  return value && typeof value === 'object' ? Object.entries(value) : [];
}

function cbStateUrl(state) {
  const windows = state.windows;
  if (windows && typeof windows === 'object') {
    for (const [key, w] of cbEntries(windows)) {
      const id = w && typeof w === 'object' ? w.window || w.id || key : key;
      const url = w && typeof w === 'object' ? w.url : w;
      if (String(id) === cbSync.win && typeof url === 'string' && url) return url;
    }
  }
  return cbSync.win === 'main' && typeof state.url === 'string' ? state.url : '';
}

function cbApplyForms(forms) {
  for (const [key, value] of cbEntries(forms)) {
    const path = value && Array.isArray(value.target) ? value.target : cbPathFromKey(key);
    const fields = value && typeof value === 'object' && !Array.isArray(value) ? value
      : Array.isArray(value) ? { selected: value } : typeof value === 'boolean' ? { checked: value } : { value: String(value) };
    cbTry(() => cbApplyInput(Object.assign({}, fields, { target: path })));
  }
}

/** scroll: {path key ("null" for the window): {x, y, anchor}}. */
function cbApplyScrollState(scroll) {
  for (const [key, value] of cbEntries(scroll)) {
    if (!value || typeof value !== 'object') continue;
    const target = 'target' in value ? value.target : key === 'null' ? null : cbPathFromKey(key);
    cbTry(() => cbApplyScroll(Object.assign({}, value, { target })));
  }
}

/** storage: {real origin: {area: {key: value}}}; only this page's origin is ours to write. */
function cbApplyStorageState(storage) {
  const mine = cbRealOrigin();
  for (const [origin, areas] of cbEntries(storage)) {
    if (String(origin).replace(/\/$/, '') !== mine) continue;
    for (const [area, entries] of cbEntries(areas)) {
      for (const [key, value] of cbEntries(entries)) cbApplyStorageWrite(area, key, value);
    }
  }
}

function cbApplyState(msg) {
  const state = msg.state && typeof msg.state === 'object' ? msg.state : {};
  if (typeof state.controller === 'string' && state.controller) cbSync.controller = state.controller;
  cbSyncChanged();
  if (cbSyncInControl()) return;
  const url = cbStateUrl(state);
  cbApplying(() => {
    if (state.storage) cbApplyStorageState(state.storage);
    if (!url || !cbSameUrl(url, cbRealHref())) return;
    if (state.forms) cbApplyForms(state.forms);
  });
  if (url && cbSameUrl(url, cbRealHref()) && state.scroll) {
    // Once now and once more after late layout (images, fonts) has settled.
    for (const delay of CB_LATE_SCROLL_MS) setTimeout(() => cbApplying(() => cbApplyScrollState(state.scroll)), delay);
  }
  if (url) cbFollow(url, 'load', CB_NAV_GRACE_MS);
  cbDigestSoon();
}

cbSyncOn('state', cbApplyState);

// -- digest and drift ----------------------------------------------------------------------------

function cbNormalisedBody() {
  const out = [];
  const walk = (node) => {
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) {
        const text = c.data.replace(/\s+/g, ' ').trim();
        if (text) out.push(text);
      } else if (c.nodeType === 1 && !CB_DIGEST_SKIP.has(c.localName) && !c.hidden) {
        out.push('<' + c.localName + '>');
        if (CB_FIELD_TAGS.has(c.localName) && cbFieldOf(c) && !cbMasked(c)) out.push(JSON.stringify(cbFieldValue(c)));
        walk(c);
        out.push('</>');
      }
    }
  };
  if (document.body) walk(document.body);
  return out.join('\u0001');
}

/** FNV-1a (32 bit) of the normalised body, with its length: cheap, and enough to compare. */
function cbDigest() {
  const s = cbNormalisedBody();
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i += 1) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0') + '-' + s.length.toString(36);
}

const cbDigestState = { last: '', at: 0, timer: 0 };

function cbSendDigest() {
  if (!cbSync.on || cbSync.status !== 'connected' || !cbSync.domReady || cbSync.participants.length < 2) return;
  if (Date.now() - cbSync.activeAt < CB_DIGEST_QUIET_MS) { cbDigestSoon(); return; }
  const hash = cbDigest();
  if (hash === cbDigestState.last && Date.now() - cbDigestState.at < CB_DIGEST_RESEND_MS) return;
  cbDigestState.last = hash;
  cbDigestState.at = Date.now();
  cbSyncSend({ type: 'digest', hash, url: cbRealHref() });
}

function cbDigestSoon() {
  clearTimeout(cbDigestState.timer);
  cbDigestState.timer = setTimeout(() => cbTry(cbSendDigest), Math.max(CB_DIGEST_AFTER_APPLY_MS, CB_DIGEST_QUIET_MS));
}

function cbOnDrift(msg) {
  if (cbSyncInControl() || cbNavPending()) return;
  const here = cbRealHref();
  if (msg.url && !cbSameUrl(msg.url, here)) { cbFollow(msg.url, 'load', 0); return; }
  const last = cbTry(() => JSON.parse(sessionStorage.getItem(CB_DRIFT_KEY) || 'null'), null);
  if (last && last.url === here && Date.now() - last.at < CB_DRIFT_MIN_MS) return;
  if (cbPageSockets.opened) { cbSync.counters.kept += 1; return; }
  cbTry(() => cbStorageNative.setItem.call(sessionStorage, CB_DRIFT_KEY, JSON.stringify({ url: here, at: Date.now() })));
  cbNav.pendingSince = Date.now();
  window.location.reload();
}

cbSyncOn('drift', cbOnDrift);
cbAfterApplyHooks.push(cbDigestSoon);
if (cbSync.on) {
  setInterval(() => cbTry(cbSendDigest), CB_DIGEST_EVERY_MS);
  cbSyncOn('ready', cbDigestSoon);
}

// -- a read-only view for tests and support staff's consoles ------------------------------------

if (cbSync.on) {
  const view = Object.freeze({
    status: () => ({
      status: cbSync.status, me: cbSync.me, controller: cbSync.controller, participants: cbSync.participants,
      window: cbSync.win, page: cbSync.page, lastN: cbSync.lastN, seq: cbSync.seq, unacked: cbSync.unacked.length,
      counters: Object.assign({}, cbSync.counters),
    }),
    digest: () => cbDigest(),
  });
  Object.defineProperty(window, '__cbSync', { value: view, configurable: false, enumerable: false });
}
