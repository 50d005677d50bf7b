/* cobrowse runtime, part 20: real URLs <-> proxy URLs (the JS twin of rewriter/space.py and
 * rewriter/urls.py).
 *
 * Job: cbToProxy(url, base) gives what to use in place of a URL a page wrote, in a document whose
 * real base URL is base (default: this document's real base); cbFromProxy maps a proxy URL of
 * this session back to the real URL.
 * A URL is read as the WHATWG URL parser reads it against the real base (cbSplitReference):
 * LOCAL (non-web scheme: javascript:, data:, blob:, mailto:...), RELATIVE (no scheme and not
 * "//"; or the base's own scheme followed by fewer than two slashes: "http:foo" on an http page
 * is http://<same host>/<dir>/foo), or NETWORK ("//host", or a web scheme then the authority
 * after any number of "/" or "\", none included: "https:evil.example/x" on an http page).
 * Hosts are read by the browser's own URL parser (CBN.URL), so IPv4 spellings, IDN, escapes
 * and IPv6 come out as the browser has them.
 * Invariants: LOCAL and plain RELATIVE URLs, and URLs already on a proxy host, are returned
 * unchanged; a NETWORK URL whose host gets no proxy host becomes CB_REFUSED (inert); a NETWORK URL gets its origin's proxy host and keeps the path, query and fragment
 * as written ("\" before the query written "/"); a RELATIVE URL with a scheme loses the scheme
 * (the proxy page's scheme may differ) and keeps the rest; both functions take and return
 * strings and never throw (on any doubt the input is returned).
 */
const CB_SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const CB_PROXY_PORT = CB.port !== null && CB.port !== CB_DEFAULT_PORTS[CB.scheme] ? ':' + CB.port : '';
const CB_WS_SCHEME = { http: 'ws', https: 'wss' };
// What a URL whose host cannot be given a proxy host becomes (rewriter/space.py REFUSED).
const CB_REFUSED = 'about:invalid';
const cbNativeBaseURI = Object.getOwnPropertyDescriptor(Node.prototype, 'baseURI').get;

function cbProxyHostFor(o) {
  const label = cbLabelFor(o);
  return label ? label + '--' + CB.sid + (CB.view ? '-' + CB.view : '') + '.' + CB.domain : null;
}

/** "http://<label>--<sid>-<view>.<domain>[:port]" for a real origin, or null. */
function cbProxyOriginFor(o) {
  const host = cbProxyHostFor(o);
  return host ? CB.scheme + '://' + host + CB_PROXY_PORT : null;
}

/** What a browser makes of a URL string's edges: C0/space trimmed, tabs/newlines dropped. */
function cbTrimUrl(url) {
  if (!/^[\u0000-\u0020]|[\u0000-\u0020]$|[\t\n\r]/.test(url)) return url;
  return url.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
}

// Authority -> proxy host ('' when the URL stays as it is), and proxy authority -> real
// origin: pages use few origins and many URLs, and parsing a host costs far more than a look-up.
const CB_AUTHORITY_CACHE_MAX = 1000;
const cbToProxyHosts = new Map();
const cbFromProxyOrigins = new Map();

function cbCached(cache, key, compute) {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    if (cache.size >= CB_AUTHORITY_CACHE_MAX) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/** The proxy host for an authority; '' when it already is one; null when none can be had (the
 * URL then becomes CB_REFUSED). Throws when the browser refuses the authority itself. */
function cbProxyHostForAuthority(scheme, authority) {
  const parsed = new CBN.URL(scheme + '://' + authority + '/');
  if (cbIsProxyHost(parsed.hostname)) return '';
  const o = cbOriginOfUrl(parsed);
  return (o && cbProxyHostFor(o)) || null;
}

function cbRealOriginForAuthority(authority) {
  const o = cbOriginForHost(new CBN.URL('http://' + authority + '/').hostname);
  return o ? cbOriginString(o) : '';
}

function cbTwoSlashes(s) {
  return s.length >= 2 && (s[0] === '/' || s[0] === '\\') && (s[1] === '/' || s[1] === '\\');
}

/** {kind, scheme, authority, tail}: the URL as read against a base of scheme baseScheme
 * (a function, called only when the answer depends on it). Mirrors rewriter/urls.py. */
function cbSplitReference(url, baseScheme) {
  const s = cbTrimUrl(url);
  const m = CB_SCHEME_RE.exec(s);
  let scheme;
  let rest;
  if (m) {
    scheme = m[1].toLowerCase();
    rest = s.slice(m[0].length);
    if (!CB_WEB_SCHEMES[scheme + ':']) return { kind: 'local' };
    if (!cbTwoSlashes(rest) && scheme === baseScheme()) return { kind: 'relative', scheme, tail: rest };
  } else {
    if (!cbTwoSlashes(s)) return { kind: 'relative', scheme: '' };
    const b = baseScheme();
    scheme = CB_WEB_SCHEMES[b + ':'] ? b : 'https';
    rest = s;
  }
  const body = rest.replace(/^[/\\]+/, '');
  const end = body.search(/[/\\?#]/);
  const cut = end < 0 ? body.length : end;
  let tail = body.slice(cut);
  if (tail.includes('\\')) {
    const q = tail.search(/[?#]/);
    tail = q < 0 ? tail.replace(/\\/g, '/') : tail.slice(0, q).replace(/\\/g, '/') + tail.slice(q);
  }
  return { kind: 'network', scheme, authority: body.slice(0, cut), tail };
}

/** The real base URL of this document (its <base>, else its URL), as a string. */
function cbRealBase() {
  const native = cbNativeBaseURI.call(document);
  const real = cbFromProxy(native);
  return real !== native ? real : cbRealHref();
}

function cbToProxy(input, base) {
  const url = String(input);
  return cbTry(() => cbToProxyUnsafe(url, base === undefined ? null : String(base)), url);
}

function cbToProxyUnsafe(url, givenBase) {
  let base = givenBase;
  const baseScheme = () => {
    if (base === null) base = cbRealBase();
    return cbTry(() => new CBN.URL(base).protocol.slice(0, -1), '');
  };
  const ref = cbSplitReference(url, baseScheme);
  if (ref.kind === 'relative' && ref.scheme) {
    if (!ref.tail) return cbToProxyUnsafe(new CBN.URL(base).href.replace(/#[\s\S]*$/, ''), base);
    return /^[/\\?#]/.test(ref.tail) ? ref.tail : './' + ref.tail;
  }
  if (ref.kind !== 'network') return url;
  const proxyHost = cbCached(cbToProxyHosts, ref.scheme + '://' + ref.authority,
    () => cbProxyHostForAuthority(ref.scheme, ref.authority));
  if (proxyHost === null) return CB_REFUSED;
  if (!proxyHost) return url;
  const proxyScheme = ref.scheme === 'ws' || ref.scheme === 'wss' ? CB_WS_SCHEME[CB.scheme] : CB.scheme;
  return proxyScheme + '://' + proxyHost + CB_PROXY_PORT + ref.tail;
}

function cbFromProxy(input) {
  const url = String(input);
  return cbTry(() => cbFromProxyUnsafe(url), url);
}

function cbFromProxyUnsafe(url) {
  if (!url.toLowerCase().includes(CB.domain)) return url;
  const ref = cbSplitReference(url, () => '');
  if (ref.kind !== 'network') return url;
  let origin = cbCached(cbFromProxyOrigins, ref.authority, () => cbRealOriginForAuthority(ref.authority));
  if (!origin) return url;
  if (ref.scheme === 'ws' || ref.scheme === 'wss') origin = origin.replace(/^http/, 'ws');
  return origin + ref.tail;
}

/** The real URL of this document now (follows pushState), falling back to the config's. */
function cbRealHref() {
  const native = CBN.locationHref();
  const real = cbFromProxy(native);
  return real !== native ? real : CB.url || native;
}

function cbRealUrl() {
  return new CBN.URL(cbRealHref());
}

function cbRealScheme() {
  return cbTry(() => cbRealUrl().protocol.slice(0, -1), 'https');
}

function cbRealOrigin() {
  return cbTry(() => cbRealUrl().origin, 'null');
}

/** Map each URL of a srcset (URLs may hold commas; descriptors follow whitespace). */
function cbMapSrcset(value, fn) {
  const s = String(value);
  let out = '';
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j < s.length && /[\s,]/.test(s[j])) j += 1;
    out += s.slice(i, j);
    i = j;
    if (i >= s.length) break;
    while (j < s.length && !/\s/.test(s[j])) j += 1;
    let url = s.slice(i, j);
    const commas = /,+$/.exec(url);
    const trail = commas ? commas[0] : '';
    if (trail) url = url.slice(0, -trail.length);
    out += fn(url) + trail;
    i = j;
    if (trail) continue;
    let depth = 0;
    while (j < s.length && !(s[j] === ',' && depth === 0)) {
      if (s[j] === '(') depth += 1;
      else if (s[j] === ')') depth = Math.max(0, depth - 1);
      j += 1;
    }
    out += s.slice(i, j);
    i = j;
  }
  return out;
}

/** Map a whitespace-separated URL list (a[ping]). */
function cbMapList(value, fn) {
  return String(value).replace(/[^\s]+/g, (u) => fn(u));
}

/** Map url(...), @import "..." and the bare strings of image-set() inside CSS text (style
 * attributes, <style>, cssText). A cheap approximation of rewriter/css.py for runtime writes. */
function cbMapCss(css, fn) {
  const s = String(css);
  if (!/url\(|@import|image-set\(/i.test(s)) return s;
  return cbMapImageSets(s
    .replace(/(url\(\s*)(["']?)([^"')]*)(\2\s*\))/gi, (all, a, q, u, b) => a + q + fn(u) + b)
    .replace(/(@import\s+)(["'])([^"']*)(\2)/gi, (all, a, q, u, b) => a + q + fn(u) + b), fn);
}

/** The strings directly inside each image-set(...) (not inside a nested function) are URLs. */
function cbMapImageSets(s, fn) {
  const re = /image-set\(/gi;
  let out = '';
  let last = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    let i = m.index + m[0].length;
    let depth = 1;
    while (i < s.length && depth > 0) {
      const c = s[i];
      if (c === '(') depth += 1;
      else if (c === ')') depth -= 1;
      else if (c === '"' || c === "'") {
        let end = i + 1;
        while (end < s.length && s[end] !== c) end += s[end] === '\\' ? 2 : 1;
        if (depth === 1) { out += s.slice(last, i + 1) + fn(s.slice(i + 1, end)); last = end; }
        i = end;
      }
      i += 1;
    }
    re.lastIndex = Math.max(i, re.lastIndex);
  }
  return out + s.slice(last);
}

// -- modules: what rewritten scripts call for import() and import.meta (rewriter/js_calls.py) ---

/** An import() specifier: a network URL (absolute or scheme-relative) goes to its proxy URL;
 * relative and bare specifiers resolve as they would (against the module's proxy URL). */
function cbImportSpecifier(spec) {
  const s = typeof spec === 'string' ? spec : (spec instanceof CBN.URL ? spec.href : null);
  if (s === null || !/^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\//.test(s)) return spec;
  const mapped = cbToProxy(s.trim());
  return mapped === s.trim() ? spec : mapped;
}

const cbRealMetas = new WeakSet();

/** A module's import.meta with its url (and what resolve() returns) read as real URLs; the same
 * object, changed once, so what the module stores on it stays. */
function cbImportMeta(meta) {
  if (!meta || typeof meta !== 'object' || cbRealMetas.has(meta)) return meta;
  cbRealMetas.add(meta);
  cbTry(() => { if (typeof meta.url === 'string') meta.url = cbFromProxy(meta.url); });
  const resolve = meta.resolve;
  if (typeof resolve === 'function') {
    cbTry(() => { meta.resolve = function (specifier) { return cbFromProxy(resolve.call(this, specifier)); }; });
  }
  return meta;
}
