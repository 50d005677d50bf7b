/* cobrowse runtime, part 10: origin <-> proxy host label (a port of rewriter/origins.py).
 *
 * Job: name a real origin's proxy host, `<label>--<sid>-<view>.<domain>`, and read one back
 * (every view of this session, and none, reads back as this session's).
 * Label grammar (must match rewriter/origins.py byte for byte):
 *   label = kind [port] "-" body; kind h/s = http/https DNS host ("-" doubled, "." as "-"),
 *   i/j = http/https IPv6 literal as 32 hex digits, "a-..." = alias kept by the session;
 *   the port is written only when it is not the scheme's default.
 * Invariants: only canonical labels decode (decode re-encodes and compares), so the mapping
 * stays injective; labels longer than CB_MAX_LABEL or hosts that cannot be spelled get an
 * alias, which only the proxy may mint (GET <prefix>alias?origin=...), cached per origin.
 * An origin here is {scheme, host, port}: scheme http/https, ASCII host as the WHATWG URL
 * parser gives it (IDN already punycode), IPv6 without brackets, numeric port.
 */
const CB_MAX_LABEL = 63 - 2 - 10 - 1 - 4; // rewriter/origins.py MAX_ORIGIN_LABEL
const CB_DEFAULT_PORTS = { http: 80, https: 443 };
const CB_WEB_SCHEMES = { 'http:': 'http', 'https:': 'https', 'ws:': 'http', 'wss:': 'https' };
const CB_DNS_KIND = { http: 'h', https: 's' };
const CB_IP6_KIND = { http: 'i', https: 'j' };
const CB_KIND_SCHEME = { h: ['http', false], s: ['https', false], i: ['http', true], j: ['https', true] };

function cbOriginString(o) {
  const host = o.host.includes(':') ? '[' + o.host + ']' : o.host;
  return o.scheme + '://' + host + (o.port === CB_DEFAULT_PORTS[o.scheme] ? '' : ':' + o.port);
}

/** The origin of a parsed URL object (any web scheme), or null. */
function cbOriginOfUrl(u) {
  const scheme = CB_WEB_SCHEMES[u.protocol];
  if (!scheme || !u.hostname) return null;
  // Trailing dots go (labels cannot spell them), unless the host is nothing but dots.
  let host = u.hostname.toLowerCase().replace(/\.+$/, '') || u.hostname;
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (!host) return null;
  return { scheme, host, port: u.port ? parseInt(u.port, 10) : CB_DEFAULT_PORTS[scheme] };
}

function cbDnsEncodable(host) {
  return /^[a-z0-9.-]+$/.test(host)
    && host.split('.').every((p) => p !== '' && p[0] !== '-' && p[p.length - 1] !== '-');
}

function cbIpv6Hex(host) {
  const halves = host.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return null;
  const pieces = head.concat(new Array(fill).fill('0'), tail);
  if (pieces.length !== 8 || !pieces.every((p) => /^[0-9a-f]{1,4}$/.test(p))) return null;
  return pieces.map((p) => p.padStart(4, '0')).join('');
}

function cbEncodeLabel(o) {
  const port = o.port === CB_DEFAULT_PORTS[o.scheme] ? '' : String(o.port);
  let label;
  if (o.host.includes(':')) {
    const hex = cbIpv6Hex(o.host);
    if (hex === null) return null;
    label = CB_IP6_KIND[o.scheme] + port + '-' + hex;
  } else if (cbDnsEncodable(o.host)) {
    label = CB_DNS_KIND[o.scheme] + port + '-' + o.host.replace(/-/g, '--').replace(/\./g, '-');
  } else {
    return null;
  }
  return label.length <= CB_MAX_LABEL ? label : null;
}

function cbDecodeLabel(label) {
  if (label.length < 3 || label.length > CB_MAX_LABEL) return null;
  const kind = CB_KIND_SCHEME[label[0]];
  const dash = label.indexOf('-');
  if (!kind || dash < 1) return null;
  const [scheme, ipv6] = kind;
  const digits = label.slice(1, dash);
  const body = label.slice(dash + 1);
  if (digits && (!/^[0-9]+$/.test(digits) || digits[0] === '0')) return null;
  const port = digits ? parseInt(digits, 10) : CB_DEFAULT_PORTS[scheme];
  if (!(port > 0 && port < 65536) || (digits && port === CB_DEFAULT_PORTS[scheme])) return null;
  const host = ipv6 ? cbDecodeIpv6(body) : cbDecodeDns(body);
  if (host === null) return null;
  const o = { scheme, host, port };
  return cbEncodeLabel(o) === label ? o : null;
}

function cbDecodeIpv6(body) {
  if (!/^[0-9a-f]{32}$/.test(body)) return null;
  const groups = body.match(/.{4}/g).map((g) => parseInt(g, 16).toString(16));
  try {
    return new CBN.URL('http://[' + groups.join(':') + ']/').hostname.slice(1, -1);
  } catch (e) {
    return null;
  }
}

function cbDecodeDns(body) {
  let out = '';
  for (let i = 0; i < body.length; i += 1) {
    if (body[i] !== '-') out += body[i];
    else if (body[i + 1] === '-') { out += '-'; i += 1; }
    else out += '.';
  }
  return cbDnsEncodable(out) ? out : null;
}

// -- aliases: minted by the proxy, known from the config or asked for once per origin ------

const cbAliasOrigin = new Map(); // alias label -> origin
const cbOriginAlias = new Map(); // origin string -> alias label

for (const [label, origin] of Object.entries(CB.aliases)) {
  cbTry(() => {
    const o = cbOriginOfUrl(new CBN.URL(String(origin)));
    if (o && label.startsWith('a-')) { cbAliasOrigin.set(label, o); cbOriginAlias.set(cbOriginString(o), label); }
  });
}

function cbAskAlias(o) {
  const key = cbOriginString(o);
  const xhr = new CBN.XHR();
  CBN.xhrOpen.call(xhr, 'GET', CB.prefix + 'alias?origin=' + encodeURIComponent(key), false);
  CBN.xhrSend.call(xhr);
  if (xhr.status !== 200) return null;
  const parsed = cbParseProxyHost(new CBN.URL(xhr.responseText.trim()).hostname);
  if (!parsed || !parsed[0].startsWith('a-')) return null;
  cbAliasOrigin.set(parsed[0], o);
  cbFromProxyOrigins.clear(); // it may hold a miss for this label
  return parsed[0];
}

/** The label for a real origin, or null when none can be had (the URL is then left alone). */
function cbLabelFor(o) {
  const label = cbEncodeLabel(o);
  if (label !== null) return label;
  const key = cbOriginString(o);
  if (!cbOriginAlias.has(key)) cbOriginAlias.set(key, cbTry(() => cbAskAlias(o), null));
  return cbOriginAlias.get(key);
}

/** [label, sid, view] of a proxy host name (no port), or null. */
function cbParseProxyHost(hostname) {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const suffix = '.' + CB.domain;
  if (!host.endsWith(suffix)) return null;
  const first = host.slice(0, -suffix.length);
  const cut = first.lastIndexOf('--');
  if (first.includes('.') || cut < 1) return null;
  const rest = first.slice(cut + 2);
  const dash = rest.indexOf('-');
  const sid = dash < 0 ? rest : rest.slice(0, dash);
  const view = dash < 0 ? '' : rest.slice(dash + 1);
  if (!sid || (dash >= 0 && !/^[a-z0-9]{4}$/.test(view))) return null;
  return [first.slice(0, cut), sid, view];
}

/** The real origin a proxy host of this session names, or null. */
function cbOriginForHost(hostname) {
  const parsed = cbParseProxyHost(hostname);
  if (!parsed || parsed[1] !== CB.sid) return null;
  return parsed[0].startsWith('a-') ? cbAliasOrigin.get(parsed[0]) || null : cbDecodeLabel(parsed[0]);
}

function cbIsProxyHost(hostname) {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return host === CB.domain || host.endsWith('.' + CB.domain);
}
