/* cobrowse runtime, part 20: real URLs <-> proxy URLs (the JS twin of rewriter/space.py).
 *
 * Job: cbToProxy maps an absolute or protocol-relative http(s)/ws(s) URL into the session's
 * proxy space; cbFromProxy maps a proxy URL of this session back to the real URL.
 * Invariants: relative and root-relative URLs are returned unchanged (they already resolve
 * on the proxy host); URLs already on a proxy host, and non-web schemes (javascript:, data:,
 * blob:, mailto:, ...), are returned unchanged; only the scheme and authority are replaced,
 * so the path, query and fragment bytes the page wrote are kept as written; both functions
 * take and return strings and never throw (on any doubt the input is returned).
 */
const CB_ABS_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):[/\\]*([^/\\?#]*)([\s\S]*)$/;
const CB_PROXY_PORT = CB.port !== null && CB.port !== CB_DEFAULT_PORTS[CB.scheme] ? ':' + CB.port : '';
const CB_WS_SCHEME = { http: 'ws', https: 'wss' };

function cbProxyHostFor(o) {
  const label = cbLabelFor(o);
  return label ? label + '--' + CB.sid + '.' + CB.domain : null;
}

/** "http://<label>--<sid>.<domain>[:port]" for a real origin, or null. */
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

function cbProxyHostForAuthority(scheme, authority) {
  const parsed = new CBN.URL(scheme + '://' + authority + '/');
  if (cbIsProxyHost(parsed.hostname)) return '';
  const o = cbOriginOfUrl(parsed);
  return (o && cbProxyHostFor(o)) || '';
}

function cbRealOriginForAuthority(authority) {
  const o = cbOriginForHost(new CBN.URL('http://' + authority + '/').hostname);
  return o ? cbOriginString(o) : '';
}

function cbToProxy(input) {
  const url = String(input);
  return cbTry(() => cbToProxyUnsafe(url), url);
}

function cbToProxyUnsafe(url) {
  let s = cbTrimUrl(url);
  if (/^[/\\]{2}/.test(s)) s = cbRealScheme() + ':' + s;
  const m = CB_ABS_RE.exec(s);
  if (!m) return url;
  const scheme = m[1].toLowerCase();
  if (!CB_WEB_SCHEMES[scheme + ':']) return url;
  const proxyHost = cbCached(cbToProxyHosts, scheme + '://' + m[2],
    () => cbProxyHostForAuthority(scheme, m[2]));
  if (!proxyHost) return url;
  const proxyScheme = scheme === 'ws' || scheme === 'wss' ? CB_WS_SCHEME[CB.scheme] : CB.scheme;
  let rest = m[3];
  // Special-scheme URLs read "\" as "/" before the query; keep that reading explicit.
  const cut = rest.search(/[?#]/);
  if (rest.includes('\\')) {
    rest = cut < 0 ? rest.replace(/\\/g, '/') : rest.slice(0, cut).replace(/\\/g, '/') + rest.slice(cut);
  }
  return proxyScheme + '://' + proxyHost + CB_PROXY_PORT + rest;
}

function cbFromProxy(input) {
  const url = String(input);
  return cbTry(() => cbFromProxyUnsafe(url), url);
}

function cbFromProxyUnsafe(url) {
  if (!url.toLowerCase().includes(CB.domain)) return url;
  const m = CB_ABS_RE.exec(cbTrimUrl(url));
  if (!m) return url;
  const scheme = m[1].toLowerCase();
  if (!CB_WEB_SCHEMES[scheme + ':']) return url;
  let origin = cbCached(cbFromProxyOrigins, m[2], () => cbRealOriginForAuthority(m[2]));
  if (!origin) return url;
  if (scheme === 'ws' || scheme === 'wss') origin = origin.replace(/^http/, 'ws');
  return origin + m[3];
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

/** Map url(...) and @import "..." inside CSS text (style attributes, <style>, cssText). */
function cbMapCss(css, fn) {
  const s = String(css);
  if (!s.includes('//') && !s.includes('\\')) return s;
  return s
    .replace(/(url\(\s*)(["']?)([^"')]*)(\2\s*\))/gi, (all, a, q, u, b) => a + q + fn(u) + b)
    .replace(/(@import\s+)(["'])([^"']*)(\2)/gi, (all, a, q, u, b) => a + q + fn(u) + b);
}
