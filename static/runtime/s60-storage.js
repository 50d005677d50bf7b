/* cobrowse runtime, part s60: page storage and windows, replayed from the controller.
 *
 * Job: localStorage/sessionStorage writes the controller's page makes (setItem, removeItem,
 * clear) are sent as `storage` and replayed by the others; windows the controller's page
 * opens (window.open) and closes are sent as `window` open/close, and the others open the
 * same URL (or close theirs).
 * Invariants: the Storage methods and window.open keep their native behaviour and results
 * (wrapped, never replaced by our own logic); replays write through the natives inside
 * cbApplying, so they are not sent back; an unnamed window gets the same id on every
 * participant (see cbOpenId) and the name "__cb_<id>", so its page finds that id (part s10)
 * and a second open of it only navigates the same window; a page that names its target keeps
 * its name (the id is then derived from that name).
 * Not covered: `localStorage.key = value` property writes (no hook exists for them).
 */
const CB_WINDOW_POLL_MS = 1000;

const cbStorageNative = {
  setItem: Storage.prototype.setItem,
  removeItem: Storage.prototype.removeItem,
  clear: Storage.prototype.clear,
};

function cbStorageArea(storage) {
  if (cbTry(() => storage === window.localStorage, false)) return 'local';
  if (cbTry(() => storage === window.sessionStorage, false)) return 'session';
  return null;
}

function cbStorageFor(area) {
  return cbTry(() => (area === 'local' ? window.localStorage : area === 'session' ? window.sessionStorage : null), null);
}

function cbSendStorage(storage, key, value) {
  if (!cbCapturing()) return;
  const area = cbStorageArea(storage);
  if (area) cbSyncSend({ type: 'storage', area, key, value });
}

if (cbSync.on) {
  cbPatchMethod(Storage.prototype, 'setItem', null, function (result, args) {
    cbSendStorage(this, String(args[0]), String(args[1]));
    return result;
  });
  cbPatchMethod(Storage.prototype, 'removeItem', null, function (result, args) {
    cbSendStorage(this, String(args[0]), null);
    return result;
  });
  cbPatchMethod(Storage.prototype, 'clear', null, function (result) {
    cbSendStorage(this, null, null);
    return result;
  });
}

function cbApplyStorageWrite(area, key, value) {
  const storage = cbStorageFor(area);
  if (!storage) return;
  if (key === null || key === undefined) cbStorageNative.clear.call(storage);
  else if (value === null || value === undefined) cbStorageNative.removeItem.call(storage, String(key));
  else cbStorageNative.setItem.call(storage, String(key), String(value));
}

// -- windows ------------------------------------------------------------------------------------

const cbWindows = new Map(); // window id -> Window this page opened

function cbWatchClosed(id, win) {
  const timer = setInterval(() => {
    if (!cbTry(() => win.closed, true)) return;
    clearInterval(timer);
    if (cbWindows.get(id) === win) cbWindows.delete(id);
    if (cbCapturing()) cbSyncSend({ type: 'window', action: 'close', window: id, url: '' });
  }, CB_WINDOW_POLL_MS);
}

let cbOpeningId = null; // the id window.open is being called with, between our two hooks
let cbOpenCount = 0;

/* A window's id is the same on every participant: the page is the same, so its k-th
 * window.open of a URL happens everywhere (by the controller's hand, by a replayed click, or
 * by the page's own script); the `window` message then finds the window already open. */
function cbOpenId(target, url) {
  if (target.startsWith('__cb_')) return target.slice(5);
  if (target !== '' && target.toLowerCase() !== '_blank') return 'n-' + target;
  cbOpenCount += 1;
  let h = 0x811c9dc5;
  for (let i = 0; i < url.length; i += 1) h = Math.imul(h ^ url.charCodeAt(i), 0x01000193) >>> 0;
  return 'w' + cbOpenCount + '-' + h.toString(36);
}

function cbOpenedUrl(args) {
  const given = args.length > 0 && args[0] !== undefined ? String(args[0]) : '';
  return given ? cbTry(() => new CBN.URL(cbFromProxy(given), cbRealHref()).href, 'about:blank') : 'about:blank';
}

if (cbSync.on) {
  cbPatchMethod(window, 'open', (args) => {
    const target = args.length > 1 && args[1] !== undefined ? String(args[1]) : '_blank';
    if (['_self', '_parent', '_top'].includes(target.toLowerCase())) return args;
    cbOpeningId = cbOpenId(target, cbOpenedUrl(args));
    if (!cbOpeningId.startsWith('w')) return args;
    const out = Array.prototype.slice.call(args);
    out[1] = '__cb_' + cbOpeningId;
    return out;
  }, (win, args) => {
    const id = cbOpeningId;
    cbOpeningId = null;
    if (!id || !win) return win;
    cbWindows.set(id, win);
    if (cbCapturing()) {
      cbSyncSend({ type: 'window', action: 'open', window: id, url: cbOpenedUrl(args) });
      cbWatchClosed(id, win);
    }
    return win;
  });
}

function cbApplyWindow(msg) {
  const id = String(msg.window || '');
  if (!id || id === cbSync.win) {
    if (msg.action === 'close' && id === cbSync.win && id !== 'main') window.close();
    return;
  }
  if (msg.action === 'close') {
    const win = cbWindows.get(id);
    if (win) cbTry(() => win.close());
    cbWindows.delete(id);
    return;
  }
  if (msg.action !== 'open' || cbSync.win !== 'main' || cbWindows.has(id)) return;
  const name = id.startsWith('n-') ? id.slice(2) : '__cb_' + id;
  // A blank window, or a page of this session's proxy space: nothing else is opened.
  const blank = msg.url === undefined || msg.url === null || msg.url === '' || msg.url === 'about:blank';
  const url = blank ? 'about:blank' : cbNavTarget(msg.url);
  if (!url) { cbSync.counters.refused += 1; return; }
  const win = window.open(url, name);
  if (win) cbWindows.set(id, win);
  else cbOfferWindow(url, name, id); // blocked without a user gesture: the toolbar offers it
}

function cbOfferWindow(url, name, id) {
  // The toolbar renders offers as buttons; a click is the user gesture window.open needs.
  cbUi.offers.push(() => {
    const win = window.open(url, name);
    if (win) cbWindows.set(id, win);
  });
  cbRenderUi();
}

cbSyncOn('storage', (msg) => {
  if (cbSyncInControl()) return;
  cbApplying(() => cbApplyStorageWrite(msg.area, msg.key, msg.value));
});
cbSyncOn('window', (msg) => {
  if (cbSyncInControl()) return;
  cbApplying(() => cbApplyWindow(msg));
});
