/* cobrowse worker runtime, part 90: what a worker's own script reads and where it connects.
 *
 * Job: the names rewriter/js.py's rewritten scripts call (`__cb$loc`, `__cb$set`, `__cb$pat`,
 * `__cb$rw`, `__cb$po`, `__cb$im`, `__cb$me`, as static/runtime/45-jsglue.js gives them in a page) for the worker
 * global: `location`/`self.location` read as a stand-in WorkerLocation of the worker's real
 * URL (href, origin, protocol, host, hostname, port, pathname, search, hash, toString);
 * `self.origin` and `isSecureContext` read as directly. URLs passed to importScripts, fetch,
 * XMLHttpRequest.open, WebSocket, EventSource and a nested Worker are mapped into the proxy
 * space (cbToProxy: relative URLs pass untouched).
 * Invariants: every hook falls back to the native behaviour on error; the glue names are
 * non-writable, non-enumerable own properties of the global.
 * Not covered: code built at run time (eval, new Function) runs unrewritten; what the worker
 * reads back from responses (Response.url, a service worker's FetchEvent.request.url) shows
 * proxy URLs.
 */
const cbWorkerReal = () => cbTry(() => new CBN.URL(cbRealHref()), null) || new CBN.URL(CB.url);

function cbWorkerLocation() {
  const fields = ['href', 'origin', 'protocol', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
  const proto = self.WorkerLocation ? WorkerLocation.prototype : Object.prototype;
  const stand = Object.create(proto);
  for (const name of fields) {
    Object.defineProperty(stand, name, { get: () => cbWorkerReal()[name] });
  }
  Object.defineProperty(stand, 'toString', { value: () => cbWorkerReal().href });
  Object.defineProperty(stand, Symbol.toStringTag, { value: 'WorkerLocation' });
  return stand;
}
const cbWorkerLoc = cbWorkerLocation();

function cbWorkerLocOf(v) {
  return v !== null && v === self.location ? cbWorkerLoc : v;
}

function cbWorkerPattern(o) {
  if (o !== self) return o;
  return new Proxy(o, { get: (t, key) => (key === 'location' ? cbWorkerLoc : Reflect.get(t, key)) });
}

for (const [name, fn] of [['__cb$loc', cbWorkerLocOf], ['__cb$set', (o) => o], ['__cb$pat', cbWorkerPattern],
  ['__cb$rw', (code) => code], ['__cb$po', (v) => v], ['__cb$im', cbImportSpecifier], ['__cb$me', cbImportMeta]]) {
  cbTry(() => Object.defineProperty(self, name, { value: fn, configurable: false, enumerable: false, writable: false }));
}

// `origin` is [Replaceable]: an own property shadows the prototype's accessor.
cbTry(() => Object.defineProperty(self, 'origin', {
  get: () => cbWorkerReal().origin, configurable: true, enumerable: true,
}));
cbTry(() => {
  const native = self.isSecureContext;
  const u = cbWorkerReal();
  const loopback = /^(?:localhost|.*\.localhost|127(?:\.\d+){3}|\[::1\])$/i.test(u.hostname);
  const secure = native && (u.protocol === 'https:' || loopback);
  Object.defineProperty(self, 'isSecureContext', { get: () => secure, configurable: true, enumerable: true });
});

/** Wrap owner[name] (a function) so that argument `index` is mapped when it is a string or URL. */
function cbWorkerMapArg(owner, name, index, construct) {
  const native = owner && owner[name];
  if (typeof native !== 'function') return;
  const map = (args) => {
    const out = Array.prototype.slice.call(args);
    const v = out[index];
    if (typeof v === 'string' || (v instanceof CBN.URL)) out[index] = cbToProxy(v);
    return out;
  };
  const wrapped = construct
    ? function (...args) {
      if (!new.target) return native.apply(this, args);
      return Reflect.construct(native, cbTry(() => map(args), args), new.target === wrapped ? native : new.target);
    }
    : function (...args) { return native.apply(this, cbTry(() => map(args), args)); };
  if (construct) {
    cbTry(() => Object.setPrototypeOf(wrapped, native)); // statics: WebSocket.OPEN, ...
    wrapped.prototype = native.prototype;
    cbTry(() => Object.defineProperty(native.prototype, 'constructor', { value: wrapped, configurable: true, writable: true }));
  }
  cbTry(() => Object.defineProperty(wrapped, 'name', { value: native.name }));
  cbTry(() => Object.defineProperty(wrapped, 'length', { value: native.length }));
  owner[name] = wrapped;
}

cbTry(() => {
  const importNative = self.importScripts;
  if (typeof importNative === 'function') {
    self.importScripts = function importScripts(...urls) {
      return importNative.apply(this, cbTry(() => urls.map((u) => (typeof u === 'string' ? cbToProxy(u) : u)), urls));
    };
  }
});
cbTry(() => {
  const fetchNative = self.fetch;
  self.fetch = function fetch(input, init) {
    let mapped = input;
    cbTry(() => {
      if (typeof input === 'string' || input instanceof CBN.URL) mapped = cbToProxy(input);
      else if (input instanceof Request) {
        const url = cbToProxy(input.url);
        if (url !== input.url) mapped = new Request(url, input);
      }
    });
    return fetchNative.call(this, mapped, init);
  };
});
if (self.XMLHttpRequest) cbWorkerMapArg(XMLHttpRequest.prototype, 'open', 1, false);
for (const name of ['WebSocket', 'EventSource', 'Worker', 'SharedWorker']) cbWorkerMapArg(self, name, 0, true);
