/* cobrowse worker runtime, part 00: the stand-ins the page runtime's URL parts need.
 *
 * Job: a worker (dedicated, shared or service; classic or module) gets no page runtime, so
 * proxy/worker_runtime.py prefixes its script with this prelude: this part, then
 * static/runtime/10-origins.js and 20-urls.js (the proxy-host <-> origin codec and the URL
 * mapping, reused as they are), then 90-glue.js. All are joined into one strict function,
 * `cbWorker(cbConfigText)`, called at once with the session's config as JSON text (the same
 * fields as a page's data-cb, `url` being the worker script's real URL).
 * Here stand `CB` (the config), `CBN` (natives) and `cbTry`, as parts 00 and 05 give them in a
 * page, and the two names 20-urls.js reads that a worker scope lacks: `Node.prototype.baseURI`
 * (read on `document`) is the worker's own URL, which is in the proxy space.
 * Invariants: never throws (the function is called inside try/catch, and a missing or odd
 * config stands the prelude down, so the script still runs as it came); a second copy in the
 * same worker (each module of a module worker's graph has one) stands down too.
 */
if (self.__cb$loc) return;
const CB = cbReadWorkerConfig(cbConfigText);
if (!CB) return;
const CBN = Object.freeze({
  URL: self.URL,
  XHR: self.XMLHttpRequest, // none in a service worker: asking for an alias then fails (caught)
  xhrOpen: self.XMLHttpRequest ? XMLHttpRequest.prototype.open : null,
  xhrSend: self.XMLHttpRequest ? XMLHttpRequest.prototype.send : null,
  locationHref: () => String(self.location.href),
});
const Node = { prototype: { get baseURI() { return CBN.locationHref(); } } };
const document = null;

function cbTry(fn, fallback) {
  try { return fn(); } catch (e) { return fallback; }
}

/** The config the proxy wrote (already normalised there: proxy/worker_runtime.py), or null. */
function cbReadWorkerConfig(text) {
  try {
    const cfg = JSON.parse(text);
    const fine = cfg && typeof cfg.sid === 'string' && typeof cfg.domain === 'string' && typeof cfg.url === 'string'
      && cfg.aliases && typeof cfg.aliases === 'object';
    return fine ? Object.freeze(cfg) : null;
  } catch (e) {
    return null;
  }
}
