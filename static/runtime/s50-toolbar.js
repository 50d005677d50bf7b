/* cobrowse runtime, part s50: the toolbar, remote cursors, click ripples and the end screen.
 *
 * Job: a small fixed bar showing the connection state, who takes part (name, role, whether
 * connected), who is in control, and the buttons for the participant's role (leader: give
 * control, take it back (with the session's consent rule: ask for it), end the session;
 * follower: request control (none in a view-only session), or while in control give it back,
 * and allow or decline the leader's ask); a layer with the
 * other participants' labelled pointers and a ripple where a replayed click landed; and, once
 * the session has ended, an overlay saying so (then the 410 page's redirect, if the session
 * has one).
 * The session's branding (config ``chrome``, sessions.branding.chrome) trims the agent's chrome:
 * ``overlays`` drops the bar, ``none`` mounts nothing at all; a visitor's is always ``full``.
 * Invariants: everything lives in one shadow root on a <cobrowse-ui> element appended to
 * <html> (outside <body>, so page structure, paths and digests never include it) and styled
 * only from inside (the page's CSS cannot reach it); names are set as text, never as markup;
 * events in it are not captured (part s30 ignores them) and do not reach the page's bubbling
 * listeners.
 */
const CB_UI_CSS = `
:host { all: initial !important; position: fixed !important; left: 0 !important; top: 0 !important;
  width: 0 !important; height: 0 !important; z-index: 2147483647 !important; display: block !important; }
* { box-sizing: border-box; font: 12px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
.bar { position: fixed; right: 10px; bottom: 10px; max-width: calc(100vw - 20px); display: flex; flex-wrap: wrap;
  align-items: center; gap: 6px 10px; padding: 6px 10px; border-radius: 8px; background: #1f2937; color: #f9fafb;
  box-shadow: 0 2px 10px rgba(0,0,0,.3); pointer-events: auto; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #f59e0b; display: inline-block; margin-right: 4px; }
.bar[data-status=connected] .dot { background: #10b981; }
.bar[data-status=ended] .dot { background: #ef4444; }
.people { display: flex; gap: 6px; margin: 0; padding: 0; list-style: none; }
.people li { padding: 1px 6px; border-radius: 10px; background: #374151; }
.people li[data-control] { background: #2563eb; }
.people li[data-offline] { opacity: .5; }
button { cursor: pointer; border: 0; border-radius: 5px; padding: 3px 8px; background: #e5e7eb; color: #111827; }
button[data-action=end] { background: #fecaca; color: #7f1d1d; }
.ask { color: #fde68a; }
.layer { position: fixed; inset: 0; pointer-events: none; overflow: hidden; }
.cursor { position: absolute; left: 0; top: 0; transition: transform 60ms linear; will-change: transform; }
.cursor svg { display: block; }
.cursor span { position: absolute; left: 14px; top: 16px; white-space: nowrap; padding: 1px 5px; border-radius: 4px;
  color: #fff; font-size: 11px; }
.ripple { position: absolute; width: 36px; height: 36px; margin: -18px 0 0 -18px; border-radius: 50%;
  border: 3px solid #2563eb; animation: cb-ripple 500ms ease-out forwards; }
@keyframes cb-ripple { from { transform: scale(.2); opacity: 1; } to { transform: scale(1.4); opacity: 0; } }
.ended { position: fixed; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center;
  gap: 8px; background: rgba(255,255,255,.97); color: #111827; pointer-events: auto; }
.ended h1 { font-size: 22px; font-weight: 600; margin: 0; }
`;
const CB_CURSOR_COLORS = ['#db2777', '#7c3aed', '#0891b2', '#ea580c', '#16a34a', '#ca8a04'];
const CB_STATUS_TEXT = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…',
  restarting: 'Server restarting, reconnecting…', ended: 'Ended' };
const CB_REDIRECT_MS = 2500;

const cbUi = { host: null, root: null, bar: null, layer: null, cursors: new Map(), ended: null, offers: [], leaving: 0 };

function cbEl(tag, attrs, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

const CB_CHROME = CB.chrome || 'full';

function cbMountUi() {
  if (cbUi.host || !cbSync.on || !document.documentElement || CB_CHROME === 'none') return;
  const host = document.createElement(CB_UI_TAG);
  const root = host.attachShadow({ mode: 'open' });
  root.appendChild(cbEl('style', {}, CB_UI_CSS));
  cbUi.layer = root.appendChild(cbEl('div', { class: 'layer' }));
  if (CB_CHROME === 'full') {
    cbUi.bar = root.appendChild(cbEl('div', { class: 'bar', role: 'toolbar', 'aria-label': 'Co-browsing' }));
  }
  for (const type of ['click', 'pointerdown', 'mousedown', 'keydown', 'input']) {
    root.addEventListener(type, (e) => e.stopPropagation());
  }
  root.addEventListener('click', (e) => cbTry(() => cbUiAction(e)));
  cbUi.host = host;
  cbUi.root = root;
  document.documentElement.appendChild(host);
  cbRenderUi();
}

function cbName(id) {
  const p = cbSync.participants.find((q) => q.id === id);
  return p ? p.name || p.role : id === (cbSync.me && cbSync.me.id) ? 'you' : 'someone';
}

function cbButton(action, label, extra) {
  return cbEl('button', Object.assign({ type: 'button', 'data-action': action }, extra || {}), label);
}

function cbRenderUi() {
  const bar = cbUi.bar;
  if (!bar) return;
  const me = cbSync.me || { id: '', role: 'follower' };
  bar.setAttribute('data-status', cbSync.status);
  bar.replaceChildren();
  const status = cbEl('span', { class: 'status' });
  status.append(cbEl('span', { class: 'dot' }), CB_STATUS_TEXT[cbSync.status] || cbSync.status);
  bar.append(status);
  const people = cbEl('ul', { class: 'people' });
  for (const p of cbSync.participants) {
    const label = (p.id === me.id ? 'You' : p.name || 'Guest') + ' (' + p.role + ')';
    const attrs = { 'data-id': p.id };
    if (p.id === cbSync.controller) attrs['data-control'] = '';
    if (p.connected === false) attrs['data-offline'] = '';
    people.append(cbEl('li', attrs, label));
  }
  bar.append(people);
  bar.append(cbEl('span', { class: 'control' }, cbSync.controller === me.id ? 'You are in control' : 'In control: ' + cbName(cbSync.controller)));
  if (cbSync.status === 'ended') return;
  cbUi.offers.forEach((open, i) => bar.append(cbButton('open', 'Open the new window', { 'data-offer': String(i) })));
  if (me.role === 'leader') {
    if (cbSync.requestedBy && cbSync.requestedBy !== cbSync.controller) {
      const mine = cbSync.requestedBy === me.id;
      bar.append(cbEl('span', { class: 'ask' }, mine ? 'Asked for control…' : cbName(cbSync.requestedBy) + ' asks for control'));
    }
    for (const p of cbSync.participants) {
      if (p.id === me.id || p.id === cbSync.controller || p.connected === false) continue;
      if (cbSync.rules.view_only && p.role !== 'leader') continue;
      bar.append(cbButton('grant', 'Give control to ' + (p.name || 'guest'), { 'data-to': p.id }));
    }
    if (cbSync.controller && cbSync.controller !== me.id) {
      // With consent, taking control from the visitor who drives asks the visitor first.
      const asks = cbSync.rules.consent && cbSync.participants.some((p) => p.id === cbSync.controller && p.role !== 'leader');
      bar.append(cbButton('take', asks ? 'Ask for control' : 'Take control', asks ? { 'data-asks': '' } : {}));
    }
    bar.append(cbButton('end', 'End session'));
  } else if (cbSync.controller === me.id) {
    const leader = cbSync.participants.find((p) => p.role === 'leader');
    if (leader && cbSync.requestedBy === leader.id) {
      bar.append(cbEl('span', { class: 'ask' }, cbName(leader.id) + ' asks for control'));
      bar.append(cbButton('grant', 'Allow', { 'data-to': leader.id }));
      bar.append(cbButton('decline', 'Decline'));
    } else if (leader) {
      bar.append(cbButton('grant', 'Give control back', { 'data-to': leader.id }));
    }
  } else if (cbSync.rules.view_only) {
    bar.append(cbEl('span', { class: 'ask' }, 'View only'));
  } else {
    const asked = cbSync.requestedBy === me.id;
    bar.append(cbButton('request', asked ? 'Control requested…' : 'Request control', asked ? { disabled: '' } : {}));
  }
}

// button data-action -> the message it sends
const CB_UI_ACTIONS = {
  request: () => ({ type: 'control', action: 'request' }),
  grant: (button) => ({ type: 'control', action: 'grant', to: button.getAttribute('data-to') }),
  take: () => ({ type: 'control', action: 'take' }),
  decline: () => ({ type: 'control', action: 'decline' }),
  end: () => ({ type: 'end' }),
};

function cbUiAction(e) {
  const button = e.target.closest ? e.target.closest('button[data-action]') : null;
  if (button && button.getAttribute('data-action') === 'open') {
    const offer = cbUi.offers.splice(Number(button.getAttribute('data-offer')), 1)[0];
    if (offer) offer();
    cbRenderUi();
    return;
  }
  const make = button && CB_UI_ACTIONS[button.getAttribute('data-action')];
  if (!make) return;
  cbSyncSend(make(button));
  const action = button.getAttribute('data-action');
  if (action === 'request' || (action === 'take' && button.hasAttribute('data-asks'))) {
    cbSync.requestedBy = cbSync.me.id;
    cbRenderUi();
  }
}

// -- remote cursors and ripples -----------------------------------------------------------------

function cbCursorFor(id) {
  let c = cbUi.cursors.get(id);
  if (c) return c;
  const color = CB_CURSOR_COLORS[cbUi.cursors.size % CB_CURSOR_COLORS.length];
  c = cbEl('div', { class: 'cursor', 'data-id': id });
  c.innerHTML = '<svg width="16" height="20" viewBox="0 0 16 20"><path d="M1 1 L1 16 L5 12 L8 19 L10.5 18 L7.5 11 L13 11 Z" '
    + 'fill="' + color + '" stroke="#fff" stroke-width="1.2"/></svg>';
  const label = c.appendChild(cbEl('span', {}, ''));
  label.style.background = color;
  cbUi.layer.appendChild(c);
  cbUi.cursors.set(id, c);
  return c;
}

function cbShowPointer(msg) {
  if (!cbUi.layer || !msg.from || (cbSync.me && msg.from === cbSync.me.id)) return;
  const el = Array.isArray(msg.target) ? cbResolve(msg.target) : null;
  const [x, y] = el && el.nodeType === 1 ? cbPointIn(el, msg.ox, msg.oy) : [Number(msg.x) || 0, Number(msg.y) || 0];
  const c = cbCursorFor(msg.from);
  c.lastChild.textContent = cbName(msg.from);
  c.style.transform = 'translate(' + Math.round(x) + 'px,' + Math.round(y) + 'px)';
  c.style.opacity = '1';
  clearTimeout(c.cbFade);
  c.cbFade = setTimeout(() => { c.style.opacity = '0.35'; }, 8000);
}

function cbRipple(x, y) {
  if (!cbUi.layer) return;
  const r = cbEl('div', { class: 'ripple' });
  r.style.left = Math.round(x) + 'px';
  r.style.top = Math.round(y) + 'px';
  cbUi.layer.appendChild(r);
  setTimeout(() => r.remove(), 600);
}

// -- the end ------------------------------------------------------------------------------------

function cbShowEnded(msg) {
  if (CB_CHROME === 'none' && msg.redirect && !cbUi.leaving) {
    cbUi.leaving = setTimeout(() => window.location.reload(), CB_REDIRECT_MS);  // no overlay: just on to the redirect
  }
  if (!cbUi.root || cbUi.ended) return;
  const box = cbEl('div', { class: 'ended', role: 'alertdialog', 'aria-live': 'assertive' });
  // A participant the agent removed (its socket closed with 4003) is told so, not that the session ended.
  box.append(cbEl('h1', {}, cbSync.endTitle || 'The session has ended'));
  box.append(cbEl('p', {}, msg.redirect ? 'Taking you on…' : 'You can close this tab.'));
  cbUi.ended = cbUi.root.appendChild(box);
  // The session's hosts answer 410 now, with a Refresh to the redirect when there is one.
  if (msg.redirect) setTimeout(() => window.location.reload(), CB_REDIRECT_MS);
}

cbSyncOn('ready', cbMountUi);
cbSyncOn('pointer', cbShowPointer);
cbSyncOn('ended', cbShowEnded);
cbSyncWatch(() => {
  for (const id of Array.from(cbUi.cursors.keys())) {
    if (!cbSync.participants.some((p) => p.id === id && p.connected !== false)) {
      cbUi.cursors.get(id).remove();
      cbUi.cursors.delete(id);
    }
  }
  cbRenderUi();
});
