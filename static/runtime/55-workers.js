/* cobrowse runtime, part 55: scripts that run outside this document.
 *
 * Job: Worker and SharedWorker (classic and module), worklets (CSS.paintWorklet,
 * audioWorklet, ... through Worklet.prototype.addModule) and service worker registration
 * load their script from the proxy URL of the real URL the page named; a service worker's
 * `scope` option is mapped the same way, and what the browser reports back (registration
 * scope, a worker's scriptURL) reads as real URLs again.
 * Service workers run through the proxy, not refused: their script is served by the proxy
 * with its CSP, so whatever real URL the worker fetches on its own is refused by the browser
 * (it stays in the proxy space, or fails); the session's end clears it (Clear-Site-Data).
 * Inside a worker (dedicated, shared, service; classic or module) this runtime does not run:
 * the proxy serves the worker's own script with the worker runtime first (static/worker/,
 * proxy/worker_runtime.py), so `self.location`, `self.origin` and `isSecureContext` read the
 * real values and importScripts/fetch/XHR/WebSocket/EventSource map real URLs.
 * Out of scope: inside a worker, static and dynamic import() of absolute real URLs and code
 * built at run time (eval); what responses report back (Response.url, a service worker's
 * FetchEvent.request.url); worklets' scripts (no runtime at all); in the page, dynamic
 * import() and `import.meta.url`. The CSP contains them.
 * Invariants: relative URLs pass untouched; never throws.
 */
cbPatchCtor('Worker', (args) => cbMapArg(args, 0, cbToProxy));
cbPatchCtor('SharedWorker', (args) => cbMapArg(args, 0, cbToProxy));
if (window.Worklet) cbPatchMethod(Worklet.prototype, 'addModule', (args) => cbMapArg(args, 0, cbToProxy));

if (window.ServiceWorkerContainer) {
  cbPatchMethod(ServiceWorkerContainer.prototype, 'register', (args) => {
    const mapped = cbMapArg(args, 0, cbToProxy);
    const options = mapped[1];
    if (!options || typeof options !== 'object' || options.scope === undefined || options.scope === null) return mapped;
    return [mapped[0], { ...options, scope: cbToProxy(options.scope) }].concat(Array.prototype.slice.call(mapped, 2));
  });
  cbPatchMethod(ServiceWorkerContainer.prototype, 'getRegistration', (args) => cbMapArg(args, 0, cbToProxy));
  if (window.ServiceWorkerRegistration) {
    cbPatchAccessor(ServiceWorkerRegistration.prototype, 'scope', (v) => cbFromProxy(v));
  }
  if (window.ServiceWorker) cbPatchAccessor(ServiceWorker.prototype, 'scriptURL', (v) => cbFromProxy(v));
}
