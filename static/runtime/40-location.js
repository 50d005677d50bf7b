/* cobrowse runtime, part 40: what the page reads back about where it is, and navigation.
 *
 * Job: document.URL/documentURI/referrer/domain/baseURI, window.origin, isSecureContext,
 * location.ancestorOrigins (of the stand-in) and MessageEvent.origin show the target's values; history.pushState/replaceState accept real URLs; navigations to
 * real URLs the page starts (location.href = ..., assign, replace, links, GET forms) are
 * caught and sent to the proxy URL instead.
 *
 * What Chromium does not let us hook (checked in Chromium 156): `window.location` and
 * `document.location` are [LegacyUnforgeable] (own, non-configurable properties), and so are
 * every member of the Location object (href, assign, replace, hostname, ...). Hence:
 * - `location.hostname`, `location.origin`, `location.href` read natively still show the
 *   proxy's values; `window.__cbLocation` is a stand-in with the real values, and the proxy
 *   rewrites scripts (rewriter/js.py) so their `location` reads reach it through part 45.
 * - `location.href = 'https://example.com/y'` (and assign/replace with a real absolute URL)
 *   cannot be intercepted before it starts; the Navigation API's `navigate` event fires for
 *   it, is cancelable, and we cancel it and start the same navigation to the proxy URL.
 * Relative assignments and hash changes need nothing: they already resolve on the proxy host.
 */
function cbNavigate(url, replace) {
  if (replace) window.location.replace(url);
  else window.location.assign(url);
}

// -- document and window read-backs ---------------------------------------------------------

cbPatchAccessor(Document.prototype, 'URL', function (v) { return this === document ? cbRealHref() : v; });
cbPatchAccessor(Document.prototype, 'documentURI', function (v) { return this === document ? cbRealHref() : v; });
cbPatchAccessor(Document.prototype, 'referrer', (v) => cbFromProxy(v));
cbPatchAccessor(Node.prototype, 'baseURI', (v) => cbFromProxy(v));
cbTry(() => {
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'domain');
  if (!d || !d.configurable) return;
  Object.defineProperty(Document.prototype, 'domain', {
    configurable: true,
    enumerable: d.enumerable,
    get() { return this === document ? cbRealUrl().hostname : d.get.call(this); },
    // Relaxing document.domain is meaningless across proxy hosts and deprecated anyway:
    // accept what the real site could set (a suffix of its host) and do nothing.
    set(v) {
      const host = cbRealUrl().hostname;
      const want = String(v).toLowerCase();
      if (this !== document) d.set.call(this, v);
      else if (want !== host && !host.endsWith('.' + want)) {
        throw new DOMException("Failed to set the 'domain' property on 'Document'", 'SecurityError');
      }
    },
  });
});
cbPatchAccessor(window, 'origin', (v) => (v === 'null' ? v : cbRealOrigin()));
// *.localhost makes every proxy page a secure context; the target's own URL decides directly
// (https, or a loopback host), and a frame is secure only if its parent is too.
function cbRealSecure() {
  const u = cbRealUrl();
  const loopback = /^(?:localhost|.*\.localhost|127(?:\.\d+){3}|\[::1\])$/i.test(u.hostname);
  return (u.protocol === 'https:' || u.protocol === 'wss:' || loopback)
    && (window.parent === window || cbTry(() => window.parent.isSecureContext, true) !== false);
}
cbPatchAccessor(window, 'isSecureContext', (v) => (v ? cbTry(cbRealSecure, v) : v));
cbPatchAccessor(MessageEvent.prototype, 'origin', (v) => (v && v !== 'null' ? cbFromProxy(v).replace(/\/$/, '') : v));

// -- history --------------------------------------------------------------------------------

for (const name of ['pushState', 'replaceState']) {
  cbPatchMethod(History.prototype, name, (args) => cbMapArg(args, 2, cbToProxy), (result) => {
    cbCookieStale();
    return result;
  });
}
window.addEventListener('popstate', cbCookieStale, true);

// -- the navigate fallback ----------------------------------------------------------------

function cbResubmit(url, formData) {
  // A form post to a real URL got past the submit hooks: send the same entries to the proxy URL.
  const form = document.createElement('form');
  CBN.setAttribute.call(form, 'method', 'post');
  CBN.setAttribute.call(form, 'action', url);
  CBN.setAttribute.call(form, 'enctype', 'multipart/form-data');
  form.style.display = 'none';
  for (const [name, value] of formData.entries()) {
    const input = document.createElement('input');
    input.name = name;
    if (typeof value === 'string') {
      input.type = 'hidden';
      input.value = value;
    } else {
      input.type = 'file';
      const dt = new DataTransfer();
      dt.items.add(value);
      input.files = dt.files;
    }
    form.appendChild(input);
  }
  (document.body || document.documentElement).appendChild(form);
  HTMLFormElement.prototype.submit.call(form);
}

function cbOnNavigate(event) {
  // defaultPrevented: a second copy of this runtime in a reused window (part 00) handled it.
  if (!event.cancelable || event.defaultPrevented || event.hashChange || event.downloadRequest) return;
  const dest = event.destination.url;
  const mapped = cbToProxy(dest);
  if (mapped === dest) return;
  event.preventDefault();
  if (event.formData) cbResubmit(mapped, event.formData);
  else cbNavigate(mapped, event.navigationType === 'replace');
}

cbTry(() => {
  if (window.navigation && typeof window.navigation.addEventListener === 'function') {
    window.navigation.addEventListener('navigate', (e) => cbTry(() => cbOnNavigate(e)));
  }
});

// -- window.__cbLocation: a Location look-alike with the real values --------------------------
// Also what part 85 hands out as the `location` of a popup the page opened: the Navigation API
// fires no `navigate` event in an about:blank document (checked in Chromium 156), so a URL
// written there must be mapped before it reaches the native Location.

const CB_URL_PARTS = ['protocol', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

/** location.ancestorOrigins with real origins: a frozen DOMStringList look-alike. */
function cbAncestorOrigins(list) {
  if (!list) return list;
  const origins = Array.from(list, (o) => (o === 'null' ? o : cbFromProxy(o).replace(/\/$/, '')));
  const out = Object.create(null);
  origins.forEach((o, i) => { out[i] = o; });
  Object.defineProperties(out, {
    length: { value: origins.length },
    item: { value: (i) => (origins[i] === undefined ? null : origins[i]) },
    contains: { value: (s) => origins.includes(String(s)) },
    [Symbol.iterator]: { value: () => origins[Symbol.iterator]() },
  });
  return Object.freeze(out);
}

/** A Location look-alike for `win` (this window or a same-origin one it opened). */
function cbLocationFor(win) {
  const native = () => win.location;
  const realHref = () => (win === window ? cbRealHref() : cbFromProxy(native().href));
  const realUrl = () => new CBN.URL(realHref());
  const go = (url, replace) => {
    const mapped = cbToProxy(String(url));
    // href= and replace(): the members a cross-origin Location still accepts.
    if (replace) native().replace(mapped);
    else native().href = mapped;
  };
  const setPart = (part, value) => {
    if (part === 'pathname' || part === 'search' || part === 'hash') {
      native()[part] = value; // same on the proxy host and on the real one
      return;
    }
    const u = realUrl();
    u[part] = value;
    go(u.href, false);
  };
  const stand = Object.create(null);
  for (const part of CB_URL_PARTS) {
    Object.defineProperty(stand, part, {
      enumerable: true,
      get: () => realUrl()[part],
      set: (v) => setPart(part, String(v)),
    });
  }
  Object.defineProperties(stand, {
    href: { enumerable: true, get: () => realHref(), set: (v) => go(v, false) },
    origin: { enumerable: true, get: () => (win === window ? cbRealOrigin() : realUrl().origin) },
    ancestorOrigins: { get: () => cbAncestorOrigins(native().ancestorOrigins) },
    assign: { value: (url) => go(url, false) },
    replace: { value: (url) => go(url, true) },
    reload: { value: () => native().reload() },
    toString: { value: () => realHref() },
    valueOf: { value: () => stand },
    [Symbol.toPrimitive]: { value: () => realHref() },
  });
  return Object.freeze(stand);
}

const cbLocation = cbLocationFor(window);
// In a reused window (part 00) the first copy's stand-in stays: it reads the live location.
cbTry(() => Object.defineProperty(window, '__cbLocation', { value: cbLocation, configurable: false, enumerable: false }));
