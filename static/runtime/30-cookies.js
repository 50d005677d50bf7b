/* cobrowse runtime, part 30: document.cookie backed by the session's server-side jar.
 *
 * Job: the browser never holds the target's cookies (the proxy keeps them in one jar per
 * session), so document.cookie reads and writes go to <prefix>cookie on this proxy host.
 * Invariants: a write is a synchronous POST whose answer is the new document.cookie, so
 * `document.cookie = "a=1"; fetch(...)` sends a=1 upstream; a read is served from a cache
 * that is dropped after any fetch/XHR completes, after history changes, or after ~1 s, and
 * then re-read with a synchronous GET; on any endpoint failure the last value is kept.
 */
const CB_COOKIE_TTL_MS = 1000;
const cbCookie = { value: CB.cookie, at: Date.now(), fresh: true };

function cbCookieStale() {
  cbCookie.fresh = false;
}

function cbCookieRequest(method, body) {
  const xhr = new CBN.XHR();
  const query = method === 'GET' ? '?url=' + encodeURIComponent(cbRealHref()) : '';
  CBN.xhrOpen.call(xhr, method, CB.prefix + 'cookie' + query, false);
  if (body !== undefined) CBN.xhrSetHeader.call(xhr, 'Content-Type', 'application/json');
  CBN.xhrSend.call(xhr, body === undefined ? null : body);
  if (xhr.status !== 200) throw new Error('cookie endpoint answered ' + xhr.status);
  cbCookie.value = xhr.responseText;
  cbCookie.at = Date.now();
  cbCookie.fresh = true;
  return cbCookie.value;
}

function cbCookieGet() {
  if (cbCookie.fresh && Date.now() - cbCookie.at < CB_COOKIE_TTL_MS) return cbCookie.value;
  return cbTry(() => cbCookieRequest('GET'), cbCookie.value);
}

function cbCookieSet(value) {
  const body = JSON.stringify({ url: cbRealHref(), cookie: String(value) });
  cbTry(() => cbCookieRequest('POST', body));
}

cbTry(() => {
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (!d || !d.configurable) return;
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    enumerable: d.enumerable,
    get() { return this === document ? cbCookieGet() : d.get.call(this); },
    set(v) { if (this === document) cbCookieSet(v); else d.set.call(this, v); },
  });
});
