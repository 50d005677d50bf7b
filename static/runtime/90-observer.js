/* cobrowse runtime, part 90: the mutation safety net, and the runtime's public face.
 *
 * Job: elements that reach the DOM with a real absolute URL in a URL-bearing attribute by a
 * path the other parts do not see (a tag split across document.write calls, attributes
 * copied by cloneNode from an inert document, ...) get it mapped as soon as the
 * MutationObserver reports them. This is a net, not the mechanism: by then an <img> may
 * already have asked for the real URL (which the proxy's CSP refuses), so every path that can
 * be hooked before the browser sees the URL is hooked in parts 50-80.
 * Invariants: only attributes in the tables of part 60 are read; a write happens only when
 * the mapping changes the value, so our own writes do not feed the observer back.
 */
function cbFixElement(el) {
  for (const attr of Array.from(el.attributes)) {
    const kind = cbAttrKind(el, attr.name);
    // Code (handlers, javascript: URLs) reaches the DOM rewritten or is set by the page's own
    // parser-inserted markup, which the proxy rewrote: rewriting it again here would wrap twice.
    if (!kind || kind === 'html' || kind === 'script' || CB_JS_URL_RE.test(attr.value)) continue;
    const mapped = cbAttrToProxy(kind, attr.value);
    if (mapped !== attr.value) CBN.setAttribute.call(el, attr.name, mapped);
  }
}

function cbFixTree(node) {
  if (node.nodeType !== 1) return;
  cbFixElement(node);
  if (node.firstElementChild) for (const el of node.querySelectorAll('*')) cbFixElement(el);
}

function cbOnMutations(records) {
  for (const r of records) {
    if (r.type === 'attributes') cbTry(() => cbFixElement(r.target));
    else {
      for (const node of r.addedNodes) cbTry(() => cbFixTree(node));
      // Frames the parser inserted: armed before the next parser-inserted script runs (the
      // parser performs a microtask checkpoint first), so `frames[i]` is covered there too.
      cbTry(() => cbArmFrames(r.addedNodes));
    }
  }
}

cbTry(() => {
  const names = new Set(['style', 'href', 'xlink:href']);
  for (const table of Object.values(CB_URL_ATTRS)) for (const name of Object.keys(table)) names.add(name);
  new MutationObserver(cbOnMutations).observe(document, {
    childList: true, subtree: true, attributes: true, attributeFilter: Array.from(names),
  });
});

Object.assign(cbApi, {
  toProxy: cbToProxy, fromProxy: cbFromProxy, rewriteHtml: cbRewriteHtml, realHref: cbRealHref, errors: () => cbErrors,
  armed: CB.armed, document,
});
Object.freeze(cbApi);

// A realm armed by its opener (part 85) gets the URL layer only: the sync parts that follow
// belong to documents the proxy served.
if (CB.armed) return;
