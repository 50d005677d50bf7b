/* cobrowse runtime, part 00: configuration and native references.
 *
 * Job: read the proxy's per-document config from our own <script data-cb> tag, once and
 * synchronously, and keep references to the native functions that later parts patch.
 *
 * All runtime parts are joined, in static/runtime/ORDER, into one strict-mode IIFE, so
 * top-level names are shared between parts: every name starts with "cb"/"CB".
 * Invariants: when the config is missing or unreadable, or the runtime already ran in this
 * window, the whole runtime stands down (the IIFE returns) instead of half-patching.
 */
if (window.__cbRuntime) return;
const CB = cbReadConfig();
if (!CB) return;
// Claimed first, so a second copy of the runtime in this window stands down even if this one
// fails half-way; part 90 fills it in.
const cbApi = {};
Object.defineProperty(window, '__cbRuntime', { value: cbApi, configurable: false, enumerable: false });

function cbReadConfig() {
  try {
    const el = document.currentScript;
    const raw = el && el.dataset ? el.dataset.cb : null;
    if (!raw) return null;
    const cfg = JSON.parse(raw);
    if (!cfg || typeof cfg.sid !== 'string' || typeof cfg.domain !== 'string') return null;
    // Fields this layer does not use (participant, role, ...) are kept for later parts.
    return Object.freeze({
      ...cfg,
      sid: cfg.sid.toLowerCase(),
      domain: cfg.domain.toLowerCase().replace(/\.$/, ''),
      scheme: cfg.scheme === 'https' ? 'https' : 'http',
      port: typeof cfg.port === 'number' ? cfg.port : null,
      url: typeof cfg.url === 'string' ? cfg.url : '',
      aliases: cfg.aliases && typeof cfg.aliases === 'object' ? cfg.aliases : {},
      cookie: typeof cfg.cookie === 'string' ? cfg.cookie : '',
      prefix: typeof cfg.prefix === 'string' ? cfg.prefix : '/__cb/',
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
