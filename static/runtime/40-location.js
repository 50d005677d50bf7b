/* cobrowse runtime, part 40: what the page reads back about where it is, and navigation.
 *
 * Job: document.URL/documentURI/referrer/domain/baseURI, window.origin and MessageEvent.origin
 * show the target's values; history.pushState/replaceState accept real URLs; navigations to
 * real URLs the page starts (location.href = ..., assign, replace, links, GET forms) are
 * caught and sent to the proxy URL instead.
 *
 * What Chromium does not let us hook (checked in Chromium 156): `window.location` and
 * `document.location` are [LegacyUnforgeable] (own, non-configurable properties), and so are
 * every member of the Location object (href, assign, replace, hostname, ...). Hence:
 * - `location.hostname`, `location.origin`, `location.href` read natively still show the
 *   proxy's values; `window.__cbLocation` is a stand-in with the real values for code that
 *   can use it (the proxy does not rewrite page JS).
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
  if (!event.cancelable || event.hashChange || event.downloadRequest) return;
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

const CB_URL_PARTS = ['protocol', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

function cbSetUrlPart(part, value) {
  if (part === 'pathname' || part === 'search' || part === 'hash') {
    window.location[part] = value; // same on the proxy host and on the real one
    return;
  }
  const u = cbRealUrl();
  u[part] = value;
  cbNavigate(cbToProxy(u.href), false);
}

const cbLocation = Object.create(null);
for (const part of CB_URL_PARTS) {
  Object.defineProperty(cbLocation, part, {
    enumerable: true,
    get: () => cbRealUrl()[part],
    set: (v) => cbSetUrlPart(part, String(v)),
  });
}
Object.defineProperties(cbLocation, {
  href: { enumerable: true, get: () => cbRealHref(), set: (v) => cbNavigate(cbToProxy(String(v)), false) },
  origin: { enumerable: true, get: () => cbRealOrigin() },
  ancestorOrigins: { get: () => window.location.ancestorOrigins },
  assign: { value: (url) => cbNavigate(cbToProxy(String(url)), false) },
  replace: { value: (url) => cbNavigate(cbToProxy(String(url)), true) },
  reload: { value: () => window.location.reload() },
  toString: { value: () => cbRealHref() },
  valueOf: { value: () => cbLocation },
  [Symbol.toPrimitive]: { value: () => cbRealHref() },
});
Object.freeze(cbLocation);
Object.defineProperty(window, '__cbLocation', { value: cbLocation, configurable: false, enumerable: false });
