/* cobrowse runtime, part 65: CSS that page scripts build.
 *
 * Job: every way a script hands CSS text to the browser gets its url(), @import and
 * image-set() URLs mapped (cbMapCss, part 20) before the browser parses it, and every way it
 * reads CSS text back shows the real URLs again, as the page wrote them:
 * - <style> text: textContent/innerText/innerHTML of the element; text nodes (and strings)
 *   inserted into it by appendChild/insertBefore/replaceChild/append/prepend/replaceChildren
 *   (webpack's style-loader) or a child's before/after/replaceWith; data/nodeValue/textContent
 *   written to a text node inside it, and its appendData/insertData/replaceData;
 * - the CSSOM: insertRule/addRule/replace/replaceSync of a sheet, insertRule of grouping and
 *   nesting rules, appendRule of @keyframes (constructed and adopted sheets included), rule
 *   and declaration cssText, setProperty, `element.style = text`, CSS Typed OM
 *   (CSSStyleValue.parse, StylePropertyMap.set/append);
 * - named properties that take a URL (`el.style.backgroundImage = ...`, on elements, rules and
 *   computed styles): through a Proxy around the declaration (see below);
 * - Web Animations keyframes (animate, KeyframeEffect, setKeyframes; getKeyframes reads back);
 * - FontFace sources (`new FontFace(name, 'url(...)')`).
 * Read-backs (cssText, getPropertyValue, text and data of nodes, sheet and @import href) are
 * mapped only when they hold a proxy host, so the common read costs one `includes`.
 * Cost: the Proxy makes each `el.style.x` read or write a few microseconds slower (2-4x on a
 * loaded machine); the price of both loading and reading back through named properties.
 * Invariants: non-strings (TrustedHTML, ArrayBuffer font data) pass through; never throws.
 */
const cbNativeData = Object.getOwnPropertyDescriptor(CharacterData.prototype, 'data');

function cbCssToProxy(v) {
  return typeof v === 'string' ? cbMapCss(v, cbToProxy) : v;
}

function cbCssFromProxy(v) {
  return typeof v === 'string' && v.includes(CB.domain) ? cbMapCss(v, cbFromProxy) : v;
}

function cbIsStyle(node) {
  return !!node && node.nodeType === 1 && node.localName === 'style';
}

/** A text node whose CSS the browser reads: one inside a <style>. */
function cbIsStyleText(node) {
  return !!node && node.nodeType === 3 && cbIsStyle(node.parentNode);
}

// -- <style> text ------------------------------------------------------------------------------

/** What a text write to `node` stores: CSS mapped inside a style, URL attributes (part 60). */
function cbNodeTextToProxy(v) {
  if (typeof v !== 'string') return v;
  if (cbIsStyle(this) || cbIsStyleText(this)) return cbMapCss(v, cbToProxy);
  return cbAttrNodeToProxy.call(this, v);
}

cbPatchAccessor(Node.prototype, 'textContent', cbCssFromProxy, cbNodeTextToProxy);
cbPatchAccessor(Node.prototype, 'nodeValue', cbCssFromProxy, cbNodeTextToProxy);
cbPatchAccessor(CharacterData.prototype, 'data', cbCssFromProxy,
  function (v) { return cbIsStyleText(this) ? cbCssToProxy(v) : v; });
cbPatchAccessor(HTMLElement.prototype, 'innerText',
  function (v) { return cbIsStyle(this) ? cbCssFromProxy(v) : v; },
  function (v) { return cbIsStyle(this) ? cbCssToProxy(v) : v; });
// The innerHTML setter of a style is mapped by part 70; its read-back is here.
cbPatchAccessor(Element.prototype, 'innerHTML', function (v) { return cbIsStyle(this) ? cbCssFromProxy(v) : v; });

/** Map the CSS of a node about to be inserted into a style (a text node, or a fragment's). */
function cbMapInsertedCss(node) {
  if (typeof node === 'string') return cbMapCss(node, cbToProxy);
  if (!node || !cbNativeData) return node;
  if (node.nodeType === 3) {
    const css = cbNativeData.get.call(node);
    const mapped = cbMapCss(css, cbToProxy);
    if (mapped !== css) cbNativeData.set.call(node, mapped);
  } else if (node.nodeType === 11) {
    for (let c = node.firstChild; c; c = c.nextSibling) cbMapInsertedCss(c);
  }
  return node;
}

// Each method: how many leading arguments are nodes the style receives (-1: all of them).
// A text node's before/after/replaceWith insert into its parent: for those, the parent counts.
const CB_STYLE_INSERTIONS = [
  [Node.prototype, 'appendChild', 1], [Node.prototype, 'insertBefore', 1], [Node.prototype, 'replaceChild', 1],
  [Element.prototype, 'append', -1], [Element.prototype, 'prepend', -1], [Element.prototype, 'replaceChildren', -1],
  [CharacterData.prototype, 'before', -1, true], [CharacterData.prototype, 'after', -1, true],
  [CharacterData.prototype, 'replaceWith', -1, true],
];
for (const [proto, name, count, viaParent] of CB_STYLE_INSERTIONS) {
  cbPatchMethod(proto, name, function (args) {
    if (!cbIsStyle(viaParent ? this.parentNode : this)) return args;
    const n = count < 0 ? args.length : Math.min(count, args.length);
    const out = Array.prototype.slice.call(args);
    for (let i = 0; i < n; i++) out[i] = cbMapInsertedCss(out[i]);
    return out;
  });
}

// Edits of a style's text node in place: the whole text is mapped again afterwards, since a
// url( may be split across edits.
for (const name of ['appendData', 'insertData', 'replaceData']) {
  cbPatchMethod(CharacterData.prototype, name, null, function (result) {
    if (cbIsStyleText(this)) cbMapInsertedCss(this);
    return result;
  });
}

// -- the CSSOM -------------------------------------------------------------------------------

const CB_CSS_TEXT_ARGS = [
  [CSSStyleSheet.prototype, 'insertRule', 0], [CSSStyleSheet.prototype, 'addRule', 1],
  [CSSStyleSheet.prototype, 'replace', 0], [CSSStyleSheet.prototype, 'replaceSync', 0],
  [window.CSSGroupingRule && CSSGroupingRule.prototype, 'insertRule', 0],
  [window.CSSStyleRule && CSSStyleRule.prototype, 'insertRule', 0],
  [window.CSSKeyframesRule && CSSKeyframesRule.prototype, 'appendRule', 0],
  [CSSStyleDeclaration.prototype, 'setProperty', 1],
  [window.CSSStyleValue, 'parse', 1], [window.CSSStyleValue, 'parseAll', 1],
];
for (const [obj, name, index] of CB_CSS_TEXT_ARGS) {
  if (obj) cbPatchMethod(obj, name, (args) => cbMapArg(args, index, cbCssToProxy));
}
if (window.StylePropertyMap) {
  for (const name of ['set', 'append']) {
    cbPatchMethod(StylePropertyMap.prototype, name, (args) => args.map((a, i) => (i > 0 ? cbCssToProxy(a) : a)));
  }
}

cbPatchAccessor(CSSStyleDeclaration.prototype, 'cssText', cbCssFromProxy, cbCssToProxy);
cbPatchMethod(CSSStyleDeclaration.prototype, 'getPropertyValue', null, cbCssFromProxy);
cbPatchAccessor(CSSRule.prototype, 'cssText', cbCssFromProxy);

// -- named properties of a declaration (`el.style.backgroundImage = ...`) ------------------------
// Chromium has no prototype accessor for them: each is an interceptor on the instance (checked
// in 156). So the declarations the page gets (element and rule `style`, getComputedStyle) are
// handed out behind a Proxy that maps the properties which take a URL, once per declaration
// (so `el.style === el.style`); its prototype's members, called on the Proxy, run on the
// declaration itself; everything else (other properties, indices, enumeration, `instanceof`)
// falls through to it untouched.
const CB_CSS_URL_PROPS = new Set();
for (const name of ['background', 'background-image', 'list-style', 'list-style-image', 'border-image',
  'border-image-source', 'mask', 'mask-image', 'mask-border', 'mask-border-source', '-webkit-mask',
  '-webkit-mask-image', '-webkit-mask-box-image', '-webkit-mask-box-image-source', '-webkit-border-image',
  'content', 'cursor', 'filter', 'backdrop-filter', 'shape-outside', 'clip-path', 'marker', 'marker-start',
  'marker-mid', 'marker-end', 'offset-path', 'src']) {
  CB_CSS_URL_PROPS.add(name);
  CB_CSS_URL_PROPS.add(name.replace(/^-/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase()));
}
CB_CSS_URL_PROPS.add('WebkitMask').add('WebkitMaskImage').add('WebkitMaskBoxImage').add('WebkitBorderImage');

const cbDeclProxies = new WeakMap(); // declaration -> its Proxy
const cbDeclTargets = new WeakMap(); // Proxy -> declaration
const CB_DECL_HANDLER = {
  get(target, prop) {
    const v = Reflect.get(target, prop);
    return typeof prop === 'string' && CB_CSS_URL_PROPS.has(prop) ? cbTry(() => cbCssFromProxy(v), v) : v;
  },
  set(target, prop, value) {
    const mapped = typeof prop === 'string' && CB_CSS_URL_PROPS.has(prop) ? cbTry(() => cbCssToProxy(value), value) : value;
    return Reflect.set(target, prop, mapped);
  },
};

function cbDeclProxy(decl) {
  if (!(decl instanceof CSSStyleDeclaration)) return decl;
  let p = cbDeclProxies.get(decl);
  if (!p) {
    p = new Proxy(decl, CB_DECL_HANDLER);
    cbDeclProxies.set(decl, p);
    cbDeclTargets.set(p, decl);
  }
  return p;
}

// The declaration's own prototype members, called on a Proxy, run on the declaration.
for (const name of Object.getOwnPropertyNames(CSSStyleDeclaration.prototype)) {
  cbTry(() => {
    const d = Object.getOwnPropertyDescriptor(CSSStyleDeclaration.prototype, name);
    if (!d.configurable || name === 'constructor') return;
    const unwrap = (fn) => fn && function (...args) { return fn.apply(cbDeclTargets.get(this) || this, args); };
    if (typeof d.value === 'function') {
      const m = unwrap(d.value);
      Object.defineProperty(m, 'name', { value: name });
      Object.defineProperty(m, 'length', { value: d.value.length });
      Object.defineProperty(CSSStyleDeclaration.prototype, name, { ...d, value: m });
    } else if (d.get || d.set) {
      Object.defineProperty(CSSStyleDeclaration.prototype, name, { ...d, get: unwrap(d.get), set: unwrap(d.set) });
    }
  });
}

for (const iface of ['HTMLElement', 'SVGElement', 'MathMLElement', 'CSSStyleRule', 'CSSFontFaceRule', 'CSSPageRule',
  'CSSKeyframeRule']) {
  const proto = window[iface] && window[iface].prototype;
  if (proto) cbPatchAccessor(proto, 'style', cbDeclProxy, cbCssToProxy);
}
cbPatchMethod(window, 'getComputedStyle', null, cbDeclProxy);
if (window.CSSImportRule) cbPatchAccessor(CSSImportRule.prototype, 'href', (v) => cbFromProxy(v));
cbPatchAccessor(StyleSheet.prototype, 'href', (v) => (typeof v === 'string' ? cbFromProxy(v) : v));

// -- Web Animations: keyframes that animate a property taking a URL -----------------------------

/** A copy of keyframes (an array of objects, or one object of arrays) with URL values mapped. */
function cbMapKeyframes(keyframes, fn) {
  if (!keyframes || typeof keyframes !== 'object') return keyframes;
  if (Array.isArray(keyframes)) return keyframes.map((k) => cbMapKeyframes(k, fn));
  let out = keyframes;
  for (const key of Object.keys(keyframes)) {
    if (!CB_CSS_URL_PROPS.has(key)) continue;
    const v = keyframes[key];
    const mapped = Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? fn(x) : x)) : typeof v === 'string' ? fn(v) : v;
    if (out === keyframes) out = { ...keyframes };
    out[key] = mapped;
  }
  return out;
}

const cbKeyframesToProxy = (k) => cbMapKeyframes(k, cbCssToProxy);
cbPatchMethod(Element.prototype, 'animate', (args) => (args.length < 1 ? args
  : [cbKeyframesToProxy(args[0])].concat(Array.prototype.slice.call(args, 1))));
if (window.KeyframeEffect) {
  cbPatchCtor('KeyframeEffect', (args) => (args.length < 2 ? args
    : [args[0], cbKeyframesToProxy(args[1])].concat(Array.prototype.slice.call(args, 2))));
  cbPatchMethod(KeyframeEffect.prototype, 'setKeyframes', (args) => (args.length < 1 ? args
    : [cbKeyframesToProxy(args[0])].concat(Array.prototype.slice.call(args, 1))));
  cbPatchMethod(KeyframeEffect.prototype, 'getKeyframes', null, (frames) => cbMapKeyframes(frames, cbCssFromProxy));
}

// -- web fonts -------------------------------------------------------------------------------

cbPatchCtor('FontFace', (args) => (typeof args[1] === 'string' ? cbMapArg(args, 1, cbCssToProxy) : args));
