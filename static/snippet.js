/* cobrowse visitor snippet (docs/snippet.md): one tag on an integrator's own site.
 *
 *   <script src="https://<control>/snippet.js" data-site-key="cbsk_..." async></script>
 *   (or ...snippet.js?key=cbsk_...; data-consent="off", data-continuation="/path", data-button="on",
 *   data-skip-storage="key1,key2")
 *
 * Job: register this page load as a visitor of the site (or resume the one this browser is:
 * its token is kept in the site's localStorage), show its short id on request, wait for an
 * agent's watch request (a long poll), ask the visitor's consent, and on yes move the page into
 * a cobrowse session at the same URL with its state carried over: non-HttpOnly cookies
 * (document.cookie), localStorage and sessionStorage, and form values the visitor changed;
 * HttpOnly cookies through the site's own continuation endpoint (data-continuation), which
 * hands them to cobrowse's API server to server.
 * Page API: Cobrowse('getWatchLink', cb), Cobrowse('showId'), Cobrowse('hideId'),
 * Cobrowse('getShortId', cb), Cobrowse('startSession'), Cobrowse('stopSession'),
 * Cobrowse('on', event, fn) with events ready, request, consent, sessionStart, sessionEnd, error.
 * Calls made before the snippet loaded (a stub pushing onto Cobrowse.q) are run in order.
 * Invariants: talks only to its own control origin (the script's), with CORS "simple" POSTs
 * (text/plain, no credentials); never reads password, card or masked fields; inside a cobrowse
 * session (the proxy's runtime is on the page) it does nothing but answer calls harmlessly.
 */
(function () {
  'use strict';
  var queued = window.Cobrowse && window.Cobrowse.q ? Array.prototype.slice.call(window.Cobrowse.q) : [];
  var script = document.currentScript;
  if (window.__cbRuntime || !script || !script.src) {
    window.Cobrowse = function () {};
    return;
  }
  var src = new URL(script.src);
  var control = src.origin;
  var key = script.getAttribute('data-site-key') || src.searchParams.get('key') || '';
  var askConsent = script.getAttribute('data-consent') !== 'off';
  var continuation = script.getAttribute('data-continuation') || '';
  // Storage keys the site keeps to itself (tokens, say): never carried into the session.
  var keptBack = (script.getAttribute('data-skip-storage') || '').split(',').map(function (k) { return k.trim(); });
  var STORE_KEY = 'cobrowse.visitor';
  var SKIPPED_TYPES = { hidden: 1, password: 1, file: 1, submit: 1, button: 1, reset: 1, image: 1 };
  var me = { shortId: '', token: '', session: false, moving: false, handlers: {}, ui: null };
  var ready = null;

  function emit(name, detail) {
    (me.handlers[name] || []).forEach(function (fn) {
      try { fn(detail); } catch (e) { /* a page's handler never stops the snippet */ }
    });
  }

  function post(action, body) {
    var sent = Object.assign({ key: key, token: me.token }, body || {});
    return fetch(control + '/snippet/v1/' + action, {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(sent),
      credentials: 'omit', cache: 'no-store',
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data && data.detail) || ('cobrowse answered ' + r.status));
        return data;
      });
    });
  }

  function kept() {
    try { return localStorage.getItem(STORE_KEY) || ''; } catch (e) { return ''; }
  }

  function register() {
    me.token = kept();
    return post('visitor', { url: location.href, consent: askConsent }).then(function (v) {
      me.shortId = v.short_id;
      me.token = v.token;
      me.session = v.session;
      try { localStorage.setItem(STORE_KEY, v.token); } catch (e) { /* private mode: a new id per page */ }
      emit('ready', { shortId: me.shortId, session: me.session });
      listen();
      return me;
    });
  }

  // -- waiting for an agent ----------------------------------------------------------------

  function listen() {
    if (me.moving) return;
    post('poll').then(function (answer) {
      if (answer.session !== me.session) {
        me.session = answer.session;
        if (me.session) remove('cobrowse-consent'); // answered in another tab
        emit(me.session ? 'sessionStart' : 'sessionEnd', {});
      }
      if (answer.request && !me.moving) { asked(answer.request); return; }
      listen();
    }, function (e) {
      emit('error', { message: String(e && e.message) });
      setTimeout(listen, 3000);
    });
  }

  function asked(request) {
    emit('request', { agent: request.agent });
    if (!askConsent) { move(); return; }
    consentDialog(request.agent, function (yes) {
      emit('consent', { accepted: yes });
      if (yes) move();
      else post('decline').then(listen, listen);
    });
  }

  // -- carrying the page's state over --------------------------------------------------------

  function storageOf(area) {
    var out = {};
    try {
      for (var i = 0; i < area.length; i += 1) {
        var k = area.key(i);
        if (k !== STORE_KEY && keptBack.indexOf(k) < 0) out[k] = area.getItem(k);
      }
    } catch (e) { /* storage refused: carry nothing */ }
    return out;
  }

  function privateField(el) {
    var auto = (el.getAttribute('autocomplete') || '').toLowerCase();
    return el.type === 'password' || auto.indexOf('cc-') === 0 || el.closest('[data-cobrowse-mask]') !== null;
  }

  function changed(el) {
    if (el.localName === 'select') {
      return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
    return el.value !== el.defaultValue;
  }

  function selectorOf(el) {
    if (el.id) return '#' + CSS.escape(el.id);
    if (!el.name) return '';
    var s = el.localName + '[name="' + CSS.escape(el.name) + '"]';
    if (el.type === 'checkbox' || el.type === 'radio') s += '[value="' + CSS.escape(el.value) + '"]';
    return s;
  }

  function formFields() {
    var fields = [];
    document.querySelectorAll('input, textarea, select').forEach(function (el) {
      if (fields.length >= 200 || SKIPPED_TYPES[el.type] || privateField(el) || !changed(el)) return;
      var selector = selectorOf(el);
      if (!selector) return;
      var checkable = el.type === 'checkbox' || el.type === 'radio';
      fields.push({ selector: selector, name: el.name || '', value: checkable ? (el.checked ? 'on' : 'off') : el.value });
    });
    return fields;
  }

  function handOver() {
    if (!continuation) return Promise.resolve();
    // The site's own endpoint (same origin: the browser sends its HttpOnly cookies) passes them on.
    return fetch(continuation, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ visitor_token: me.token }),
    }).then(function () {}, function () {});
  }

  function move() {
    if (me.moving) return Promise.resolve();
    me.moving = true;
    return handOver().then(function () {
      return post('start', {
        url: location.href,
        cookies: document.cookie,
        storage: { local: storageOf(localStorage), session: storageOf(sessionStorage) },
        form: { url: location.href, fields: formFields() },
      });
    }).then(function (answer) {
      emit('sessionStart', { url: location.href });
      location.assign(answer.enter_url);
    }, function (e) {
      me.moving = false;
      emit('error', { message: String(e && e.message) });
      listen();
    });
  }

  // -- what the visitor sees ------------------------------------------------------------------

  var STYLE = ':host{all:initial}*{box-sizing:border-box;font:15px/1.4 system-ui,sans-serif}' +
    '.badge{position:fixed;right:16px;bottom:16px;z-index:2147483647;background:#1f2937;color:#fff;' +
    'padding:8px 12px;border-radius:8px;box-shadow:0 2px 8px #0004}.badge b{letter-spacing:.12em}' +
    '.dialog{position:fixed;right:16px;bottom:16px;z-index:2147483647;max-width:22rem;background:#fff;color:#111;' +
    'padding:16px;border-radius:10px;box-shadow:0 4px 16px #0005;border:1px solid #ccc}' +
    'button{margin:12px 8px 0 0;padding:6px 14px;border-radius:6px;border:1px solid #1f2937;cursor:pointer}' +
    'button.yes{background:#1f2937;color:#fff}';

  function ui() {
    if (me.ui) return me.ui;
    var host = document.createElement('cobrowse-snippet');
    var root = host.attachShadow({ mode: 'open' });
    var style = document.createElement('style');
    style.textContent = STYLE;
    root.appendChild(style);
    (document.body || document.documentElement).appendChild(host);
    me.ui = root;
    return root;
  }

  function place(id, build) {
    var root = ui();
    var old = root.getElementById(id);
    if (old) old.remove();
    var el = document.createElement('div');
    el.id = id;
    build(el);
    root.appendChild(el);
    return el;
  }

  function spaced(id) { return id.slice(0, 3) + ' ' + id.slice(3); }

  function showId() {
    place('cobrowse-id', function (el) {
      el.className = 'badge';
      el.setAttribute('role', 'status');
      el.append('Your visitor ID: ');
      var b = document.createElement('b');
      b.textContent = spaced(me.shortId);
      el.appendChild(b);
    });
  }

  function remove(id) {
    var el = me.ui && me.ui.getElementById(id);
    if (el) el.remove();
  }

  function hideId() { remove('cobrowse-id'); }

  function consentDialog(agent, answer) {
    var box = place('cobrowse-consent', function (el) {
      el.className = 'dialog';
      el.setAttribute('role', 'dialog');
      el.setAttribute('aria-modal', 'true');
      el.setAttribute('aria-labelledby', 'cobrowse-consent-text');
      var p = document.createElement('p');
      p.id = 'cobrowse-consent-text';
      p.textContent = (agent || 'An agent') + ' would like to see this page with you to help. ' +
        'They will see this page and what you do on it, but never your passwords or card numbers.';
      var yes = document.createElement('button');
      yes.className = 'yes';
      yes.textContent = 'Allow';
      var no = document.createElement('button');
      no.textContent = 'Decline';
      el.append(p, yes, no);
      yes.addEventListener('click', function () { box.remove(); answer(true); });
      no.addEventListener('click', function () { box.remove(); answer(false); });
      el.addEventListener('keydown', function (e) {
        if (e.key === 'Escape') { box.remove(); answer(false); }
      });
    });
    box.querySelector('button.yes').focus();
  }

  function button() {
    place('cobrowse-button', function (el) {
      var b = document.createElement('button');
      b.className = 'yes';
      b.textContent = 'Co-browse this page';
      b.addEventListener('click', function () { el.remove(); showId(); });
      el.className = 'badge';
      el.appendChild(b);
    });
  }

  // -- the page's API -------------------------------------------------------------------------

  var commands = {
    getWatchLink: function (cb) {
      return post('watch-link').then(function (a) { cb(a.watch_url, a.expires_at); },
        function (e) { cb(null, String(e && e.message)); });
    },
    getShortId: function (cb) { cb(me.shortId); },
    showId: showId,
    hideId: hideId,
    startSession: function () { return move(); },
    stopSession: function () {
      return post('stop').then(function () { me.session = false; emit('sessionEnd', {}); });
    },
  };

  function run(args) {
    var name = args[0];
    if (name === 'on') {
      (me.handlers[args[1]] = me.handlers[args[1]] || []).push(args[2]);
      if (args[1] === 'ready' && me.shortId) args[2]({ shortId: me.shortId, session: me.session });
      return;
    }
    var command = commands[name];
    if (!command) return;
    ready.then(function () { command.apply(null, Array.prototype.slice.call(args, 1)); });
  }

  window.Cobrowse = function () { run(arguments); };
  ready = register();
  ready.then(function () {
    if (script.getAttribute('data-button') === 'on') button();
  }, function (e) { emit('error', { message: String(e && e.message) }); });
  queued.forEach(function (args) {
    if (args[0] === 'on') run(args);
  });
  queued.forEach(function (args) {
    if (args[0] !== 'on') run(args);
  });
})();
