/* cobrowse runtime, part 60: URL-valued element properties and attributes.
 *
 * Job: writes of URL-bearing attributes (through properties, setAttribute, setAttributeNS or
 * Attr.value) store the proxy URL; reads (properties and getAttribute) give the real URL, so
 * `a.href` shows `https://example.com/x` while the element loads from the proxy host.
 * The tables below are the only place that says which attribute carries what; the HTML
 * string rewriter (part 70) and the mutation safety net (part 90) read them too.
 * Event-handler attributes (`on<letters>`) set at run time have their code rewritten as a
 * function body, and `javascript:` URLs their code as a script (part 45), as rewriter/html.py
 * does for served pages.
 * Invariants: non-URL attributes are never touched; reading back a value that was never a
 * proxy URL returns it unchanged; `style`/`srcdoc` values are rewritten as CSS/HTML.
 */
const CB_SVG_NS = 'http://www.w3.org/2000/svg';
const CB_XLINK_NS = 'http://www.w3.org/1999/xlink';

// tag (lower case) -> attribute (lower case) -> kind
const CB_URL_ATTRS = {
  a: { href: 'url', ping: 'list' },
  area: { href: 'url', ping: 'list' },
  link: { href: 'url', imagesrcset: 'srcset' },
  base: { href: 'url' },
  img: { src: 'url', srcset: 'srcset' },
  source: { src: 'url', srcset: 'srcset' },
  script: { src: 'url' },
  iframe: { src: 'url', srcdoc: 'html' },
  frame: { src: 'url' },
  video: { src: 'url', poster: 'url' },
  audio: { src: 'url' },
  track: { src: 'url' },
  embed: { src: 'url' },
  object: { data: 'url' },
  form: { action: 'url' },
  button: { formaction: 'url' },
  input: { src: 'url', formaction: 'url' },
};
// Any element: inline CSS. Any SVG element: href and xlink:href.
const CB_ANY_ATTRS = { style: 'css' };
const CB_SVG_ATTRS = { href: 'url', 'xlink:href': 'url' };

// interface -> [property, kind]: the IDL attributes reflecting the table above.
const CB_URL_PROPS = [
  ['HTMLAnchorElement', 'href', 'url'], ['HTMLAnchorElement', 'ping', 'list'],
  ['HTMLAreaElement', 'href', 'url'], ['HTMLAreaElement', 'ping', 'list'],
  ['HTMLLinkElement', 'href', 'url'], ['HTMLLinkElement', 'imageSrcset', 'srcset'],
  ['HTMLBaseElement', 'href', 'url'],
  ['HTMLImageElement', 'src', 'url'], ['HTMLImageElement', 'srcset', 'srcset'],
  ['HTMLSourceElement', 'src', 'url'], ['HTMLSourceElement', 'srcset', 'srcset'],
  ['HTMLScriptElement', 'src', 'url'],
  ['HTMLIFrameElement', 'src', 'url'], ['HTMLIFrameElement', 'srcdoc', 'html'],
  ['HTMLFrameElement', 'src', 'url'],
  ['HTMLMediaElement', 'src', 'url'], ['HTMLVideoElement', 'poster', 'url'],
  ['HTMLTrackElement', 'src', 'url'], ['HTMLEmbedElement', 'src', 'url'],
  ['HTMLObjectElement', 'data', 'url'], ['HTMLFormElement', 'action', 'url'],
  ['HTMLButtonElement', 'formAction', 'url'],
  ['HTMLInputElement', 'src', 'url'], ['HTMLInputElement', 'formAction', 'url'],
];

// kind -> [to proxy, from proxy]
const CB_KINDS = {
  url: [(v) => cbToProxy(cbRewriteJsUrl(v)), cbFromProxy],
  list: [(v) => cbMapList(v, cbToProxy), (v) => cbMapList(v, cbFromProxy)],
  srcset: [(v) => cbMapSrcset(v, cbToProxy), (v) => cbMapSrcset(v, cbFromProxy)],
  css: [(v) => cbMapCss(v, cbToProxy), (v) => cbMapCss(v, cbFromProxy)],
  html: [(v) => cbSrcdoc(v), (v) => v],
  script: [(v) => cbRewriteJs(v, 'body'), (v) => v],
};
// Event-handler content attributes (onclick...) on any element: code, a function body.
const CB_HANDLER_RE = /^on[a-z]+$/;

/** The kind of URL an attribute of an element carries, or undefined. */
function cbAttrKind(el, name) {
  const attr = String(name).toLowerCase();
  if (el.namespaceURI === CB_SVG_NS) return CB_SVG_ATTRS[attr] || CB_ANY_ATTRS[attr] || cbHandlerKind(attr);
  const table = CB_URL_ATTRS[el.localName];
  return (table && table[attr]) || CB_ANY_ATTRS[attr] || cbHandlerKind(attr);
}

function cbHandlerKind(attr) {
  return CB_HANDLER_RE.test(attr) ? 'script' : undefined;
}

function cbAttrToProxy(kind, value) {
  return cbTry(() => CB_KINDS[kind][0](String(value)), value);
}

// -- properties -----------------------------------------------------------------------------

for (const [iface, prop, kind] of CB_URL_PROPS) {
  const proto = window[iface] && window[iface].prototype;
  if (proto) cbPatchAccessor(proto, prop, CB_KINDS[kind][1], CB_KINDS[kind][0]);
}

// new Audio(url) sets src inside the browser, past the accessor above, on an element the
// mutation net never sees (it is not in the document). Not cbPatchCtor: the prototype is
// HTMLAudioElement's, whose `constructor` must stay HTMLAudioElement.
cbTry(() => {
  const d = Object.getOwnPropertyDescriptor(window, 'Audio');
  const Native = d && d.value;
  if (typeof Native !== 'function' || !(d.configurable || d.writable)) return;
  const Audio = function Audio(...args) {
    if (!new.target) return Native.apply(this, args);
    const mapped = cbTry(() => cbMapArg(args, 0, cbToProxy), args);
    return Reflect.construct(Native, mapped, new.target === Audio ? Native : new.target);
  };
  Audio.prototype = Native.prototype;
  Object.setPrototypeOf(Audio, Object.getPrototypeOf(Native));
  cbTry(() => Object.defineProperty(Audio, 'length', { value: Native.length }));
  Object.defineProperty(window, 'Audio', { ...d, value: Audio });
});

// a.hostname and friends: read from, and write through, the real URL.
for (const iface of ['HTMLAnchorElement', 'HTMLAreaElement']) {
  const proto = window[iface] && window[iface].prototype;
  if (!proto) continue;
  for (const part of ['origin', 'protocol', 'host', 'hostname', 'port']) {
    const d = Object.getOwnPropertyDescriptor(proto, part);
    if (!d || !d.configurable) continue;
    Object.defineProperty(proto, part, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        const v = d.get.call(this);
        return cbTry(() => (this.href ? new CBN.URL(this.href)[part] : v), v);
      },
      set: d.set && function (v) {
        const real = this.href ? cbTry(() => new CBN.URL(this.href), null) : null;
        if (!real) { d.set.call(this, v); return; }
        real[part] = v;
        this.href = real.href;
      },
    });
  }
  cbPatchMethod(proto, 'toString', null, function () { return this.href; });
}

// -- attributes -----------------------------------------------------------------------------

cbPatchMethod(Element.prototype, 'setAttribute', function (args) {
  if (args.length < 2) return args;
  const kind = cbAttrKind(this, args[0]);
  return kind ? [args[0], cbAttrToProxy(kind, args[1])] : args;
});

cbPatchMethod(Element.prototype, 'setAttributeNS', function (args) {
  if (args.length < 3) return args;
  const local = String(args[1]).split(':').pop().toLowerCase();
  const isHref = local === 'href' && (args[0] === CB_XLINK_NS || args[0] === null || args[0] === '');
  const kind = isHref ? cbAttrKind(this, 'href') : !args[0] ? cbAttrKind(this, local) : undefined;
  return kind ? [args[0], args[1], cbAttrToProxy(kind, args[2])] : args;
});

cbPatchMethod(Element.prototype, 'getAttribute', null, function (result, args) {
  if (typeof result !== 'string') return result;
  const kind = cbAttrKind(this, args[0]);
  return kind && kind !== 'html' ? CB_KINDS[kind][1](result) : result;
});

function cbAttrNodeToProxy(v) {
  const kind = this instanceof Attr && this.ownerElement && cbAttrKind(this.ownerElement, this.name);
  return kind ? cbAttrToProxy(kind, v) : v;
}
const cbNativeAttrValue = cbPatchAccessor(Attr.prototype, 'value', null, cbAttrNodeToProxy);

// An Attr given its value while detached (no owner yet) is mapped when it is attached.
for (const name of ['setAttributeNode', 'setAttributeNodeNS']) {
  cbPatchMethod(Element.prototype, name, function (args) {
    const attr = args[0];
    const kind = cbNativeAttrValue && attr instanceof Attr && cbAttrKind(this, attr.name);
    if (!kind || kind === 'html') return args;
    const value = cbNativeAttrValue.get.call(attr);
    const mapped = cbAttrToProxy(kind, value);
    if (mapped !== value) cbNativeAttrValue.set.call(attr, mapped);
    return args;
  });
}

// A MutationObserver's record of a URL attribute's old value reads as the page wrote it.
cbPatchAccessor(MutationRecord.prototype, 'oldValue', function (v) {
  if (typeof v !== 'string' || this.type !== 'attributes' || !this.target) return v;
  const kind = cbAttrKind(this.target, this.attributeName);
  return kind && kind !== 'html' ? CB_KINDS[kind][1](v) : v;
});
// Node.nodeValue/textContent writes (an Attr's, a style's) and inline CSS: part 65.
