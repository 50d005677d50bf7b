/* cobrowse runtime, part 47: code the page builds at run time is rewritten before it runs.
 *
 * Job: the proxy rewrites the scripts it serves (rewriter/js.py); code a page makes from
 * strings goes through `cbRewriteJs` (part 45) on its way to the engine:
 * - `eval(code)`: the served script already calls `eval(__cb$rw(code))` (part 45); `eval`
 *   itself is not wrapped, which would turn every direct eval into an indirect one;
 * - `new Function(..., body)` and `Function(...)` (also reached as `fn.constructor`): the body,
 *   as a function body;
 * - `setTimeout(string)` / `setInterval(string)`: as a classic script;
 * - `<script>` elements built by script: their text when set through `text`, `textContent`,
 *   `innerText` or `innerHTML`, and the text of every inline script about to be inserted
 *   (itself, or inside an inserted subtree or fragment, or a text node appended to it), as a
 *   classic script or module by its `type`; data blocks (other types) are left alone.
 * Invariants: text that cannot touch `location` or call eval costs one regex test; a script
 * is never rewritten twice (part 45 caches each output as its own answer); anything that fails
 * runs the page's text as it came; the runtime's own source (realm arming, part 85) is never
 * sent. Not covered: the AsyncFunction/GeneratorFunction constructors, parameters' default
 * values, script text split over several text nodes appended one by one.
 */
const CB_SCRIPT_JS_TYPE_RE = /^(?:(?:text|application)\/(?:x-)?(?:java|ecma)script|text\/(?:jscript|livescript|javascript1\.[0-5]))$/;
const cbNativeTextContent = Object.getOwnPropertyDescriptor(Node.prototype, 'textContent');

/** 'classic', 'module', or null (a data block, or not a script element). */
function cbScriptKind(el) {
  return el && el.localName === 'script' ? cbScriptKindOf(CBN.getAttribute.call(el, 'type')) : null;
}

/** The same for the value of a script's type attribute (null when it has none). */
function cbScriptKindOf(type) {
  if (type === null) return 'classic';
  const t = String(type).trim().toLowerCase();
  if (t === 'module') return 'module';
  return t === '' || CB_SCRIPT_JS_TYPE_RE.test(t) ? 'classic' : null;
}

function cbScriptText(el, value) {
  const kind = typeof value === 'string' ? cbScriptKind(el) : null;
  return kind ? cbRewriteJs(value, kind) : value;
}

/** Rewrite the text of an inline script before the browser may run it. */
function cbPrepareScript(el) {
  if (el.hasAttribute('src')) return;
  const kind = cbScriptKind(el);
  if (!kind) return;
  const text = cbNativeTextContent.get.call(el);
  const out = cbRewriteJs(text, kind);
  if (out !== text) cbNativeTextContent.set.call(el, out);
}

/** What to insert in place of `node` (a node or a string) going into `parent`. */
function cbPrepareInserted(parent, node) {
  const intoScript = parent && parent.localName === 'script' && !parent.hasAttribute('src');
  if (typeof node === 'string') return intoScript ? cbScriptText(parent, node) : node;
  if (!node || typeof node !== 'object' || typeof node.nodeType !== 'number') return node;
  if (node.nodeType === 3 && intoScript) {
    const data = node.data;
    const out = cbScriptText(parent, data);
    if (out !== data) node.data = out;
  } else if (node.nodeType === 1 && node.localName === 'script') cbPrepareScript(node);
  else if ((node.nodeType === 1 || node.nodeType === 11) && node.firstElementChild) {
    for (const el of node.querySelectorAll('script')) cbPrepareScript(el);
  }
  return node;
}

// -- new Function ---------------------------------------------------------------------------------

cbTry(() => {
  const d = Object.getOwnPropertyDescriptor(window, 'Function');
  const Native = d && d.value;
  if (typeof Native !== 'function' || !(d.configurable || d.writable)) return;
  const mapArgs = (args) => {
    const last = args.length - 1;
    if (last < 0 || typeof args[last] !== 'string' || (CB_SOURCE && args[last] === 'return ' + CB_SOURCE)) return args;
    const out = cbRewriteJs(args[last], 'body');
    if (out === args[last]) return args;
    const copy = Array.prototype.slice.call(args);
    copy[last] = out;
    return copy;
  };
  // Called with or without `new`, Function constructs; a subclass keeps its own prototype.
  const Wrapped = function Function(...args) {
    const mapped = cbTry(() => mapArgs(args), args);
    return Reflect.construct(Native, mapped, new.target && new.target !== Wrapped ? new.target : Native);
  };
  Wrapped.prototype = Native.prototype;
  Object.setPrototypeOf(Wrapped, Object.getPrototypeOf(Native));
  cbTry(() => Object.defineProperty(Wrapped, 'length', { value: Native.length }));
  Object.defineProperty(Native.prototype, 'constructor', {
    value: Wrapped, writable: true, configurable: true, enumerable: false,
  });
  Object.defineProperty(window, 'Function', { ...d, value: Wrapped });
});

// -- string timers --------------------------------------------------------------------------------

for (const name of ['setTimeout', 'setInterval']) {
  cbPatchMethod(window, name, (args) => (typeof args[0] === 'string' ? cbMapArg(args, 0, (s) => cbRewriteJs(s, 'classic')) : args));
}

// -- script elements ------------------------------------------------------------------------------

cbPatchAccessor(HTMLScriptElement.prototype, 'text', null, function (v) { return cbScriptText(this, v); });
cbPatchAccessor(Node.prototype, 'textContent', null, function (v) { return cbScriptText(this, v); });
cbPatchAccessor(HTMLElement.prototype, 'innerText', null, function (v) { return cbScriptText(this, v); });
cbPatchAccessor(Element.prototype, 'innerHTML', null, function (v) { return cbScriptText(this, v); });

// [prototype, method, which arguments are the inserted nodes: an index, or 'all']
const CB_SCRIPT_INSERTIONS = [
  [Node.prototype, 'appendChild', 0], [Node.prototype, 'insertBefore', 0], [Node.prototype, 'replaceChild', 0],
  [Element.prototype, 'insertAdjacentElement', 1],
];
for (const proto of [Element.prototype, Document.prototype, DocumentFragment.prototype, CharacterData.prototype]) {
  for (const name of ['append', 'prepend', 'replaceChildren', 'after', 'before', 'replaceWith']) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) CB_SCRIPT_INSERTIONS.push([proto, name, 'all']);
  }
}
for (const [proto, name, which] of CB_SCRIPT_INSERTIONS) {
  cbPatchMethod(proto, name, function (args) {
    // after/before/replaceWith insert into this node's parent; the rest into this node.
    const parent = name === 'after' || name === 'before' || name === 'replaceWith' ? this.parentNode : this;
    if (which === 'all') return args.map((node) => cbPrepareInserted(parent, node));
    cbPrepareInserted(parent, args[which]);
    return args;
  });
}
