/* cobrowse runtime, part s10: the sync socket (docs/sync-protocol.md, client side).
 *
 * Job: one WebSocket per top-level page to /__cb/sync on this page's own proxy host; say
 * `hello`, number what we send (`seq`), keep what the server has not acknowledged and send it
 * again after a reconnect, hand every relayed message to the handler registered for its type
 * (parts s30-s70) exactly once, reconnect with backoff, and keep the session picture the
 * toolbar shows (who we are, who takes part, who is in control, connection state).
 * Invariants:
 * - frames never open a socket (the protocol is per top-level page); without a participant
 *   in the config (the URL-layer test harness) the sync parts stand down entirely;
 * - a relayed message with `n` <= the highest `n` applied is ignored, so replays after a
 *   reconnect never apply twice; messages that arrive before the DOM is parsed wait in order;
 * - `seq` counts for the life of the page (not per connection; the server keeps the last seq
 *   it accepted per page id), so a message sent again after a reconnect keeps its number and
 *   the server drops a copy it already has; `welcome.seq` acknowledges like an `ack`;
 * - while a received message is being applied `cbSync.applying` is non-zero: capture (s30)
 *   never sends what replaying caused;
 * - ephemeral kinds (pointer, digest) are never kept for resending: stale ones mean nothing.
 */
const CB_SYNC_EPHEMERAL = new Set(['pointer', 'digest', 'hello']);
const CB_SYNC_MAX_UNACKED = 1000;
const CB_SYNC_MAX_BYTES = 60 * 1024; // the server closes at 64 KiB; stay clear of it
const CB_SYNC_BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
const CB_NativeWebSocket = window.WebSocket; // the page may replace it later; part 50 maps only real URLs

function cbReadSyncConfig() {
  const el = document.currentScript;
  const cfg = JSON.parse(el.dataset.cb);
  if (typeof cfg.participant !== 'string' || !cfg.participant) return null;
  return { id: cfg.participant, role: cfg.role === 'leader' ? 'leader' : 'follower', name: '' };
}

function cbRandomId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('');
}

/* The window id: "main" for a tab nobody opened; a window opened through the runtime is
 * named "__cb_<id>" on every participant (s60), so each browser derives the same id. */
function cbWindowId() {
  const name = cbTry(() => window.name, '');
  if (typeof name === 'string' && name.startsWith('__cb_')) return name.slice(5);
  const opened = cbTry(() => window.opener !== null, false);
  return opened ? 'n-' + (name || 'opened') : 'main';
}

const cbSync = {
  on: false,
  me: null,
  controller: '',
  requestedBy: '',
  rules: { view_only: false, consent: false }, // the session's control rules (welcome)
  participants: [],
  status: 'connecting', // connecting | connected | reconnecting | restarting | ended
  redirect: '',
  page: cbRandomId(),
  win: 'main',
  seq: 0,
  unacked: [], // [seq, text] in seq order
  lastN: 0,
  ws: null,
  attempts: 0,
  applying: 0,
  domReady: false,
  inbox: [],
  handlers: Object.create(null), // type -> [fn(msg)]
  watchers: [], // fn() on any change of the session picture
  activeAt: 0, // when something was last captured or applied (the digest waits for quiet)
  counters: { sent: 0, resent: 0, received: 0, applied: 0, skipped: 0, oversize: 0, errors: 0, refused: 0, held: 0, kept: 0 },
};

cbTry(() => {
  const me = cbReadSyncConfig();
  cbSync.on = !!me && window.top === window && typeof CB_NativeWebSocket === 'function';
  cbSync.me = me;
  cbSync.win = cbWindowId();
});

/** Register fn for relayed messages (and server messages) of `type`. */
function cbSyncOn(type, fn) {
  (cbSync.handlers[type] || (cbSync.handlers[type] = [])).push(fn);
}

function cbSyncWatch(fn) {
  cbSync.watchers.push(fn);
}

function cbSyncChanged() {
  for (const fn of cbSync.watchers) cbTry(fn);
}

function cbSyncInControl() {
  return cbSync.on && cbSync.me !== null && cbSync.controller === cbSync.me.id && cbSync.status !== 'ended';
}

/** Whether what the user does here now is to be captured and sent. */
function cbCapturing() {
  return cbSyncInControl() && cbSync.applying === 0;
}

function cbSyncSend(msg) {
  if (!cbSync.on || cbSync.status === 'ended') return false;
  cbSync.seq += 1;
  const text = JSON.stringify(Object.assign({ seq: cbSync.seq }, msg));
  if (text.length > CB_SYNC_MAX_BYTES) {
    cbSync.counters.oversize += 1;
    return false;
  }
  if (!CB_SYNC_EPHEMERAL.has(msg.type)) {
    cbSync.activeAt = Date.now();
    cbSync.unacked.push([cbSync.seq, text]);
    if (cbSync.unacked.length > CB_SYNC_MAX_UNACKED) cbSync.unacked.shift();
  }
  cbSync.counters.sent += 1;
  const ws = cbSync.ws;
  if (ws && ws.readyState === 1 && ws.cbWelcomed) ws.send(text);
  return true;
}

/** Run fn as a replay of someone else's action: nothing it causes is captured. */
function cbApplying(fn) {
  cbSync.activeAt = Date.now();
  cbSync.applying += 1;
  try { return fn(); } finally { cbSync.applying -= 1; }
}

// -- the connection ---------------------------------------------------------------------------

function cbSyncUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return scheme + '//' + window.location.host + CB.prefix + 'sync';
}

function cbSyncConnect() {
  if (!cbSync.on || cbSync.status === 'ended') return;
  let ws;
  try { ws = new CB_NativeWebSocket(cbSyncUrl()); } catch (e) { cbReport(e); cbSyncRetry(); return; }
  cbSync.ws = ws;
  ws.cbWelcomed = false;
  ws.onopen = () => {
    ws.send(JSON.stringify({
      type: 'hello', page: cbSync.page, window: cbSync.win, url: cbRealHref(), last: cbSync.lastN,
      vw: window.innerWidth, vh: window.innerHeight,
    }));
  };
  ws.onmessage = (event) => cbTry(() => cbSyncReceive(ws, event.data));
  ws.onclose = (event) => {
    if (cbSync.ws !== ws) return;
    cbSync.ws = null;
    if (event.code === 4003) cbSync.endTitle = 'You were removed from this session';
    if (event.code === 4000 || event.code === 4003 || cbSync.status === 'ended') { cbSyncEnded(cbSync.redirect); return; }
    // 'restarting' (the server said it is going away) stays until the next welcome.
    cbSync.status = cbSync.status === 'connecting' || cbSync.status === 'restarting' ? cbSync.status : 'reconnecting';
    cbSyncChanged();
    cbSyncRetry();
  };
}

function cbSyncRetry() {
  const step = CB_SYNC_BACKOFF_MS[Math.min(cbSync.attempts, CB_SYNC_BACKOFF_MS.length - 1)];
  cbSync.attempts += 1;
  setTimeout(cbSyncConnect, step + Math.floor(Math.random() * step * 0.3));
}

function cbSyncResend(ws) {
  for (const [, text] of cbSync.unacked) ws.send(text);
  cbSync.counters.resent += cbSync.unacked.length;
}

// -- receiving --------------------------------------------------------------------------------

// Messages the server itself sends (no `n`), handled as soon as they arrive.
const CB_SYNC_SERVER = {
  ack(ws, msg) {
    cbSyncAcked(Number(msg.seq));
  },
  welcome(ws, msg) {
    if (msg.you && typeof msg.you === 'object') cbSync.me = Object.assign({}, cbSync.me, msg.you);
    if (msg.rules && typeof msg.rules === 'object') {
      cbSync.rules = { view_only: msg.rules.view_only === true, consent: msg.rules.consent === true };
    }
    cbSyncPicture(msg);
    cbSyncAcked(Number(msg.seq) || 0);
    ws.cbWelcomed = true;
    cbSync.attempts = 0;
    cbSync.status = 'connected';
    cbSyncResend(ws);
    // With a state (a fresh page, or a gap the server no longer holds) `n` is the new last;
    // without one the missed messages follow as a replay and advance it themselves.
    if (msg.state && typeof msg.state === 'object') {
      if (typeof msg.n === 'number') cbSync.lastN = msg.n;
      cbSyncDeliver({ type: 'state', state: msg.state });
    }
    cbSyncDeliver({ type: 'welcomed' });
    cbSyncChanged();
  },
  ended(ws, msg) {
    cbSyncEnded(typeof msg.redirect === 'string' ? msg.redirect : '');
  },
  restarting() {
    // The server is stopping (a restart or a deploy): the socket closes next and is reopened.
    cbSync.status = 'restarting';
    cbSyncChanged();
  },
};

function cbSyncAcked(upto) {
  while (cbSync.unacked.length && cbSync.unacked[0][0] <= upto) cbSync.unacked.shift();
}

// Numbered messages that change the picture the toolbar shows, at once (even before the DOM).
const CB_SYNC_PICTURE = new Set(['participants', 'control']);

function cbSyncPicture(msg) {
  if (Array.isArray(msg.participants)) cbSync.participants = msg.participants;
  if (typeof msg.controller === 'string' && msg.controller) {
    if (msg.controller !== cbSync.controller) cbSync.requestedBy = '';
    cbSync.controller = msg.controller;
  }
  if (msg.type === 'control' && typeof msg.requested_by === 'string') cbSync.requestedBy = msg.requested_by;
  if (msg.type === 'control' && typeof msg.declined_by === 'string') cbSync.requestedBy = '';
}

function cbSyncReceive(ws, data) {
  if (cbSync.ws !== ws || typeof data !== 'string') return;
  const msg = JSON.parse(data);
  if (!msg || typeof msg.type !== 'string') return;
  cbSync.counters.received += 1;
  const server = CB_SYNC_SERVER[msg.type];
  // The server's own messages are not relayed ones: welcome's `n` is the relay's high-water
  // mark, not its own number (the replay that follows it is numbered below it).
  if (server) { server(ws, msg); return; }
  if (typeof msg.n === 'number') {
    if (msg.n <= cbSync.lastN) { cbSync.counters.skipped += 1; return; }
    cbSync.lastN = msg.n;
  }
  if (CB_SYNC_PICTURE.has(msg.type)) { cbSyncPicture(msg); cbSyncChanged(); }
  cbSyncDeliver(msg);
}

function cbSyncDeliver(msg) {
  if (!cbSync.domReady) { cbSync.inbox.push(msg); return; }
  cbSyncDispatch(msg);
}

function cbSyncDispatch(msg) {
  const list = cbSync.handlers[msg.type];
  if (!list) return;
  cbSync.counters.applied += 1;
  for (const fn of list) {
    try { fn(msg); } catch (e) { cbSync.counters.errors += 1; cbReport(e); }
  }
}

function cbSyncDomReady() {
  if (cbSync.domReady) return;
  cbSync.domReady = true;
  const queued = cbSync.inbox.splice(0);
  for (const msg of queued) cbSyncDispatch(msg);
  cbSyncDispatch({ type: 'ready', n: 0 });
}

function cbSyncEnded(redirect) {
  const first = cbSync.status !== 'ended';
  cbSync.status = 'ended';
  cbSync.redirect = redirect || cbSync.redirect;
  cbSync.unacked = [];
  if (cbSync.ws) cbTry(() => cbSync.ws.close(1000));
  cbSync.ws = null;
  if (first) cbSyncDeliver({ type: 'ended', n: 0, redirect: cbSync.redirect });
  cbSyncChanged();
}


if (cbSync.on) {
  cbSyncConnect();
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', () => cbTry(cbSyncDomReady), { once: true });
  } else {
    setTimeout(() => cbTry(cbSyncDomReady), 0);
  }
}
