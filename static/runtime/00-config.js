/* cobrowse runtime, part 00: configuration and native references.
 *
 * Job: read the proxy's per-document config, once and synchronously, and keep references to
 * the native functions that later parts patch. The config comes from our own <script data-cb>
 * tag, or, in a fresh realm armed by its opener (part 85), from the `cbGiven` argument of the
 * runtime function (`{config: <JSON text>, source: <this runtime's source>}`).
 *
 * All runtime parts are joined, in static/runtime/ORDER, into one strict named function
 * (proxy/runtime_asset.py), so top-level names are shared between parts: every name starts
 * with "cb"/"CB".
 * Invariants: when the config is missing or unreadable, or the runtime already ran for this
 * document, the whole runtime stands down (the function returns) instead of half-patching.
 * One exception: Chromium reuses the Window (and its patched prototypes) when a realm's
 * initial about:blank document is replaced by a same-origin one (checked in Chromium 156),
 * so an armed realm's runtime steps aside for the new document's own copy. Running twice in
 * one realm is harmless: every mapping is idempotent and the navigate hook skips events
 * already handled.
 */
// typeof: a copy joined without the named wrapper (tests/runtime_harness.py) has no cbGiven.
const cbArgs = typeof cbGiven === 'object' && cbGiven ? cbGiven : null;
const cbPrior = window.__cbRuntime;
if (cbPrior && !(cbPrior.armed && cbPrior.document !== document)) return;
const CB = cbReadConfig(cbArgs);
if (!CB) return;
// The runtime's own source, read before any page script could touch Function.prototype
// (empty when a copy was joined without the name: part 85 then falls back to patching `open`).
const CB_SOURCE = cbArgs ? String(cbArgs.source)
  : typeof cbRuntime === 'function' ? Function.prototype.toString.call(cbRuntime) : '';
// Claimed first, so a second copy of the runtime for this document stands down even if this
// one fails half-way; part 90 fills it in.
const cbApi = {};
Object.defineProperty(window, '__cbRuntime', { value: cbApi, configurable: !!cbArgs, enumerable: false });

function cbReadConfig(given) {
  try {
    const el = given ? null : document.currentScript;
    const raw = given ? given.config : el && el.dataset ? el.dataset.cb : null;
    if (!raw) return null;
    const cfg = JSON.parse(raw);
    if (!cfg || typeof cfg.sid !== 'string' || typeof cfg.domain !== 'string') return null;
    // Fields this layer does not use (participant, role, ...) are kept for later parts.
    return Object.freeze({
      ...cfg,
      sid: cfg.sid.toLowerCase(),
      // The participant's view tag its proxy hosts carry (docs/participant-hosts.md), or ''.
      view: typeof cfg.view === 'string' && /^[a-z0-9]{4}$/.test(cfg.view) ? cfg.view : '',
      domain: cfg.domain.toLowerCase().replace(/\.$/, ''),
      scheme: cfg.scheme === 'https' ? 'https' : 'http',
      port: typeof cfg.port === 'number' ? cfg.port : null,
      url: typeof cfg.url === 'string' ? cfg.url : '',
      aliases: cfg.aliases && typeof cfg.aliases === 'object' ? cfg.aliases : {},
      cookie: typeof cfg.cookie === 'string' ? cfg.cookie : '',
      prefix: typeof cfg.prefix === 'string' ? cfg.prefix : '/__cb/',
      armed: !!given,
    });
  } catch (e) {
    return null;
  }
}

// Natives the runtime itself relies on, taken before any part patches them.
const CBN = Object.freeze({
  XHR: window.XMLHttpRequest,
  xhrOpen: XMLHttpRequest.prototype.open,
  xhrSend: XMLHttpRequest.prototype.send,
  xhrSetHeader: XMLHttpRequest.prototype.setRequestHeader,
  setAttribute: Element.prototype.setAttribute,
  getAttribute: Element.prototype.getAttribute,
  URL: window.URL,
  locationHref: () => window.location.href,
});
