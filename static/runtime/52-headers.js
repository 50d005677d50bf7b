/* cobrowse runtime, part 52: response headers read back by scripts.
 *
 * Job: the proxy maps the URLs and origins in some response headers into the proxy space
 * (rewriter/header_tables.py: Location, Content-Location, Refresh, Link,
 * Access-Control-Allow-Origin, Timing-Allow-Origin, Speculation-Rules); a script that reads
 * them back (`Headers.get`, iterating a Headers object, `xhr.getResponseHeader`,
 * `xhr.getAllResponseHeaders`) sees the real URLs again, as it would directly.
 * Invariants: only the headers of CB_HEADER_BACK change, and within them only proxy URLs and
 * proxy origins (cbFromProxy leaves every other value as it is); `*`, `null` and relative URLs
 * pass untouched; header names keep the case the browser gives them.
 */

function cbOriginBack(token) {
  return token === '*' || token === 'null' ? token : cbFromProxy(token);
}

// header name (lower case) -> value as the page would read it directly.
const CB_HEADER_BACK = {
  location: cbFromProxy,
  'content-location': cbFromProxy,
  // "5; url=http://..." (the URL may be quoted); the delay alone has nothing to map.
  refresh: (v) => v.replace(/(url\s*=\s*['"]?)([^'"]+)/i, (m, head, url) => head + cbFromProxy(url.trim())),
  link: (v) => v.replace(/<([^>]*)>/g, (m, url) => '<' + cbFromProxy(url) + '>'),
  'access-control-allow-origin': (v) => cbOriginBack(v.trim()),
  'timing-allow-origin': (v) => v.replace(/[^\s,]+/g, cbOriginBack),
  'speculation-rules': (v) => v.replace(/"([^"]*)"/g, (m, url) => '"' + cbFromProxy(url) + '"'),
};

function cbHeaderBack(name, value) {
  const back = typeof name === 'string' && typeof value === 'string' ? CB_HEADER_BACK[name.toLowerCase()] : null;
  return back ? cbTry(() => back(value), value) : value;
}

cbPatchMethod(Headers.prototype, 'get', null, (value, args) => cbHeaderBack(String(args[0]), value));

const cbNativeHeadersEntries = Headers.prototype.entries;

// Iteration hands out [name, value] pairs (entries, the iterator, forEach) or values alone.
function cbPatchHeaderIterator(method, pick) {
  cbPatchMethod(Headers.prototype, method, null, function (iterator) {
    const pairs = Array.from(cbNativeHeadersEntries.call(this));
    const mapped = pairs.map(([name, value]) => [name, cbHeaderBack(name, value)]);
    return (pick ? mapped.map(pick) : mapped)[Symbol.iterator]();
  });
}
cbPatchHeaderIterator('entries', null);
cbPatchHeaderIterator(Symbol.iterator, null);
cbPatchHeaderIterator('values', ([, value]) => value);
cbPatchMethod(Headers.prototype, 'forEach', function (args) {
  const [callback, thisArg] = args;
  if (typeof callback !== 'function') return args;
  return [function (value, name, headers) { return callback.call(thisArg, cbHeaderBack(name, value), name, headers); }];
});

cbPatchMethod(XMLHttpRequest.prototype, 'getResponseHeader', null, (value, args) => cbHeaderBack(String(args[0]), value));
cbPatchMethod(XMLHttpRequest.prototype, 'getAllResponseHeaders', null, (text) => (typeof text !== 'string' ? text
  : text.split('\r\n').map((line) => {
    const at = line.indexOf(': ');
    return at < 0 ? line : line.slice(0, at + 2) + cbHeaderBack(line.slice(0, at), line.slice(at + 2));
  }).join('\r\n')));
