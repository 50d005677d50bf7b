/* cobrowse runtime, part 50: requests the page's JS starts.
 *
 * Job: fetch and fetchLater (string, URL and Request inputs), XMLHttpRequest.open, WebSocket,
 * WebSocketStream, EventSource, navigator.sendBeacon and window.open send absolute real URLs
 * to the proxy URL instead; the URLs they report back (Response.url, xhr.responseURL, ws.url,
 * es.url, Performance entries' names, Cache API keys) read as real URLs again; Cache API
 * look-ups and adds by real URL go to the proxy URL. Workers and worklets: part 55.
 * Invariants: relative URLs pass untouched; the page's own objects are passed through when
 * nothing needs mapping; the cookie cache is dropped whenever a fetch or XHR finishes.
 * RTCPeerConnection is refused (NotSupportedError): see the end of this part.
 */

// -- fetch ------------------------------------------------------------------------------------

// A Request's body is a stream, and re-wrapping a stream body makes Chromium demand a
// streaming upload (HTTP/2 only): so a mapped Request with a body is rebuilt from its bytes.
const CB_REQUEST_FIELDS = ['method', 'headers', 'mode', 'credentials', 'cache', 'redirect', 'referrer',
  'referrerPolicy', 'integrity', 'keepalive', 'signal'];

function cbRemapRequest(req, mapped) {
  if (req.body === null || req.body === undefined || req.method === 'GET' || req.method === 'HEAD') {
    return new Request(mapped, req);
  }
  return req.arrayBuffer().then((body) => {
    const init = { body };
    for (const name of CB_REQUEST_FIELDS) init[name] = req[name];
    if (init.mode === 'navigate') init.mode = 'same-origin';
    return new Request(mapped, init);
  });
}

function cbFetchArgs(args) {
  const input = args[0];
  if (!(typeof Request === 'function' && input instanceof Request)) return cbMapArg(args, 0, cbToProxy);
  const mapped = cbToProxy(input.url);
  if (mapped === input.url) return args;
  const rebuilt = cbRemapRequest(input, mapped);
  const rest = Array.prototype.slice.call(args, 1);
  return rebuilt instanceof Request ? [rebuilt].concat(rest) : rebuilt.then((r) => [r].concat(rest));
}

cbTry(() => {
  const d = Object.getOwnPropertyDescriptor(window, 'fetch');
  const native = d.value;
  const wrapper = {
    fetch(...args) {
      let mapped = args;
      try { mapped = cbFetchArgs(args); } catch (e) { cbReport(e); mapped = args; }
      const promise = Array.isArray(mapped)
        ? native.apply(this, mapped)
        : mapped.then((a) => native.apply(this, a), () => native.apply(this, args));
      return promise.then(
        (response) => { cbCookieStale(); return response; },
        (error) => { cbCookieStale(); throw error; },
      );
    },
  }.fetch;
  Object.defineProperty(wrapper, 'length', { value: native.length });
  Object.defineProperty(window, 'fetch', { ...d, value: wrapper });
});
// fetchLater (secure contexts) is synchronous: a Request whose body would need reading first
// is left as it is (the proxy's CSP refuses it if it names a real URL).
if (typeof window.fetchLater === 'function') {
  cbPatchMethod(window, 'fetchLater', (args) => {
    const input = args[0];
    if (typeof Request === 'function' && input instanceof Request && input.body) return args;
    const mapped = cbFetchArgs(args);
    return Array.isArray(mapped) ? mapped : args;
  });
}
cbPatchAccessor(Response.prototype, 'url', (v) => cbFromProxy(v));
cbPatchAccessor(Request.prototype, 'url', (v) => cbFromProxy(v));

// -- XMLHttpRequest ---------------------------------------------------------------------------

cbPatchMethod(XMLHttpRequest.prototype, 'open', (args) => cbMapArg(args, 1, cbToProxy));
cbPatchMethod(XMLHttpRequest.prototype, 'send', function (args) {
  this.addEventListener('loadend', cbCookieStale);
  return args;
});
cbPatchAccessor(XMLHttpRequest.prototype, 'responseURL', (v) => cbFromProxy(v));

// -- sockets, streams, beacons, windows, workers ------------------------------------------------

/** Target sockets the page opened (the runtime's own sync socket aside): part s70 does not
 * drift-reload such a page, whose state came over a socket that a reload cannot replay. */
const cbPageSockets = { opened: 0 };

function cbOpenSocket(args) {
  if (args.length && !String(args[0]).includes(CB.prefix + 'sync')) cbPageSockets.opened += 1;
  return cbMapArg(args, 0, cbToProxy);
}

cbPatchCtor('WebSocket', cbOpenSocket);
cbPatchAccessor(WebSocket.prototype, 'url', (v) => cbFromProxy(v));
if (window.WebSocketStream) {
  cbPatchCtor('WebSocketStream', cbOpenSocket);
  cbPatchAccessor(WebSocketStream.prototype, 'url', (v) => cbFromProxy(v));
}
cbPatchCtor('EventSource', (args) => cbMapArg(args, 0, cbToProxy));
if (window.EventSource) cbPatchAccessor(EventSource.prototype, 'url', (v) => cbFromProxy(v));
cbPatchMethod(Navigator.prototype, 'sendBeacon', (args) => cbMapArg(args, 0, cbToProxy));
cbPatchMethod(window, 'open', (args) => cbMapArg(args, 0, cbToProxy));
// Workers, worklets and service workers: part 55.

// -- what the page reads back about its requests: Performance entries, the Cache API ----------

if (window.PerformanceEntry) {
  cbPatchAccessor(PerformanceEntry.prototype, 'name', function (v) {
    return typeof v === 'string' && /^(?:resource|navigation)$/.test(this.entryType) ? cbFromProxy(v) : v;
  });
  // Each timing interface has a toJSON of its own.
  for (const iface of ['PerformanceEntry', 'PerformanceResourceTiming', 'PerformanceNavigationTiming']) {
    if (!window[iface]) continue;
    cbPatchMethod(window[iface].prototype, 'toJSON', null, function (json) {
      if (json && typeof json.name === 'string') json.name = this.name;
      return json;
    });
  }
  cbPatchMethod(Performance.prototype, 'getEntriesByName', (args) => cbMapArg(args, 0, cbToProxy));
}
if (window.Cache) {
  // Keys: a real URL string is looked up (and fetched, for add) at its proxy URL; Requests
  // read back through Request.prototype.url above.
  for (const name of ['match', 'matchAll', 'add', 'delete', 'put']) {
    cbPatchMethod(Cache.prototype, name, (args) => (typeof args[0] === 'string' ? cbMapArg(args, 0, cbToProxy) : args));
  }
  cbPatchMethod(Cache.prototype, 'addAll', (args) => (Array.isArray(args[0])
    ? [args[0].map((r) => (typeof r === 'string' ? cbToProxy(r) : r))].concat(Array.prototype.slice.call(args, 1))
    : args));
  if (window.CacheStorage) {
    cbPatchMethod(CacheStorage.prototype, 'match', (args) => (typeof args[0] === 'string' ? cbMapArg(args, 0, cbToProxy) : args));
  }
}

// -- WebRTC: refused ----------------------------------------------------------------------------
// ICE (STUN/TURN and host candidates) dials any address the page names, over UDP, and no CSP
// directive governs it: a peer connection is the one channel this runtime cannot map into the
// proxy space. So it is disabled in every proxied realm (part 85 arms fresh ones), the way
// browsers report an unsupported feature; pages that test for WebRTC fall back.
cbTry(() => {
  const Native = window.RTCPeerConnection;
  if (typeof Native !== 'function') return;
  const Refused = function RTCPeerConnection() {
    throw new DOMException('WebRTC is disabled in co-browsed pages', 'NotSupportedError');
  };
  Refused.prototype = Native.prototype;
  Object.setPrototypeOf(Refused, Object.getPrototypeOf(Native));
  cbTry(() => Object.defineProperty(Native.prototype, 'constructor', {
    value: Refused, writable: true, configurable: true, enumerable: false,
  }));
  for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection']) {
    const d = Object.getOwnPropertyDescriptor(window, name);
    if (d && (d.configurable || d.writable)) Object.defineProperty(window, name, { ...d, value: Refused });
  }
});
