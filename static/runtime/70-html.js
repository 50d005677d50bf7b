/* cobrowse runtime, part 70: HTML strings the page hands to the parser.
 *
 * Job: innerHTML/outerHTML setters, insertAdjacentHTML, setHTMLUnsafe, document.write/writeln,
 * Range.createContextualFragment and iframe.srcdoc get their URL-bearing attributes mapped
 * (tables in part 60) before the browser parses them, so nothing starts loading from a real
 * URL; a srcdoc document also gets the runtime tag first, so its own scripts are covered. DOMParser and parseHTMLUnsafe are left alone: their documents are inert.
 * The rewriter is a small linear scanner over tags, not a parser: text, comments, closing tags
 * and raw-text element bodies are copied unchanged, and only attribute values in the tables
 * are replaced (scheme and authority only). A tag split across document.write calls escapes
 * it; the mutation net (part 90) catches those.
 * Scripts and event-handler attributes in these strings get their code rewritten (part 45),
 * and what the page reads back (innerHTML, outerHTML, getHTML, XMLSerializer) shows real URLs again.
 * Invariants: a string with no "//" or "\\" is returned as is (the common case costs one
 * scan); non-strings (TrustedHTML) pass through untouched; never throws.
 */
const CB_RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed',
  'noframes', 'noscript', 'plaintext']);
const CB_SVG_TAGS = new Set(['svg', 'image', 'use', 'feimage', 'textpath', 'pattern', 'lineargradient',
  'radialgradient', 'filter', 'mpath', 'animate', 'set', 'animatemotion', 'animatetransform', 'tref', 'cursor']);

function cbHtmlAttrKind(tag, name) {
  if (name === 'xlink:href' || (name === 'href' && CB_SVG_TAGS.has(tag))) return 'url';
  const table = CB_URL_ATTRS[tag];
  return (table && table[name]) || CB_ANY_ATTRS[name] || cbHandlerKind(name);
}

function cbDecodeEntities(s) {
  if (!s.includes('&')) return s;
  const t = document.createElement('textarea');
  t.innerHTML = s; // a textarea's content is RCDATA: entities decode, tags stay text
  return t.value;
}

function cbEscapeAttr(s) {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

/** The config a document this one creates (srcdoc frame, fresh realm) starts from. */
function cbChildConfig() {
  return { ...CB, aliases: Object.fromEntries(Array.from(cbAliasOrigin, ([l, o]) => [l, cbOriginString(o)])),
    url: cbRealHref(), cookie: cbCookie.value };
}

/** An iframe srcdoc document: its URLs mapped, and this runtime loaded first inside it too. */
function cbSrcdoc(html) {
  if (typeof html !== 'string') return html;
  const src = typeof CB.runtime === 'string' && CB.runtime ? CB.runtime : CB.prefix + 'runtime.js';
  const tag = '<script src="' + cbEscapeAttr(src) + '" crossorigin="anonymous" data-cb="'
    + cbEscapeAttr(JSON.stringify(cbChildConfig())) + '"></' + 'script>';
  return tag + cbRewriteHtml(html);
}

function cbRewriteHtml(html) {
  if (typeof html !== 'string' || (!html.includes('//') && !html.includes('\\') && !CB_JS_NAMES_RE.test(html))) {
    return html;
  }
  return cbTry(() => cbRewriteHtmlUnsafe(html, false), html);
}

/** Serialized markup (innerHTML, outerHTML, getHTML read back) with real URLs again: the
 * inverse of cbRewriteHtml for URL-bearing attributes and <style> text; code is left as is. */
function cbHtmlToReal(html) {
  if (typeof html !== 'string' || !html.toLowerCase().includes(CB.domain)) return html;
  return cbTry(() => cbRewriteHtmlUnsafe(html, true), html);
}

// One attribute, from just after the previous one: leading space and "/", the name, and an
// optional value (double-, single- or un-quoted). Disjoint character classes: no backtracking.
const CB_ATTR_RE = /[\t\n\f\r /]*([^\t\n\f\r />][^\t\n\f\r />=]*)?(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)("?)|'([^']*)('?)|([^\t\n\f\r >]*)))?/y;
const CB_TAG_NAME_RE = /[^\t\n\f\r />]*/y;
const CB_TAG_START_RE = /<(?:!--|[!?/]|[a-zA-Z])/g;

function cbRewriteHtmlUnsafe(s, toReal) {
  const n = s.length;
  const out = [];
  let copied = 0;
  let lower = null;
  CB_TAG_START_RE.lastIndex = 0;
  let m;
  while ((m = CB_TAG_START_RE.exec(s)) !== null) {
    const lt = m.index;
    if (m[0] === '<!--') {
      const end = s.indexOf('-->', lt + 4);
      CB_TAG_START_RE.lastIndex = end < 0 ? n : end + 3;
      continue;
    }
    if (m[0].length === 2 && '!?/'.includes(m[0][1])) {
      // Doctype, processing instruction or end tag: copied unchanged.
      const end = s.indexOf('>', lt + 2);
      CB_TAG_START_RE.lastIndex = end < 0 ? n : end + 1;
      continue;
    }
    CB_TAG_NAME_RE.lastIndex = lt + 1;
    const tag = CB_TAG_NAME_RE.exec(s)[0].toLowerCase();
    let j = CB_TAG_NAME_RE.lastIndex;
    let scriptType = null; // a <script>'s type attribute, decides classic, module or data
    while (j < n && s[j] !== '>') {
      CB_ATTR_RE.lastIndex = j;
      const a = CB_ATTR_RE.exec(s);
      if (!a || CB_ATTR_RE.lastIndex === j) { j += 1; continue; }
      j = CB_ATTR_RE.lastIndex;
      if (!a[1]) continue;
      const group = a[2] !== undefined ? 2 : a[4] !== undefined ? 4 : a[6] !== undefined ? 6 : 0;
      if (!group) continue;
      if (tag === 'script' && a[1].toLowerCase() === 'type') scriptType = cbDecodeEntities(a[group]);
      const attrKind = cbHtmlAttrKind(tag, a[1].toLowerCase());
      if (!attrKind) continue;
      const raw = a[group];
      const vEnd = j - (group === 6 ? 0 : a[group + 1].length);
      const vStart = vEnd - raw.length;
      if (toReal && (attrKind === 'html' || attrKind === 'script')) continue;
      let value = toReal ? CB_KINDS[attrKind][1](raw)
        : attrKind === 'html' ? cbEscapeAttr(cbSrcdoc(cbDecodeEntities(raw)))
          : attrKind === 'script' || CB_JS_URL_RE.test(raw) ? cbRewriteCodeAttr(attrKind, raw)
            : CB_KINDS[attrKind][0](raw);
      if (value === raw) continue;
      if (group === 6 && /[\s"'=<>`]/.test(value)) value = '"' + value.replace(/"/g, '&quot;') + '"';
      else if (group === 4) value = value.replace(/'/g, '&#39;');
      out.push(s.slice(copied, vStart), value);
      copied = vEnd;
    }
    let i = j + 1;
    if (CB_RAW_TEXT.has(tag)) {
      if (lower === null) lower = s.toLowerCase();
      const close = lower.indexOf('</' + tag, i);
      const end = close < 0 ? n : close;
      if (tag === 'style') {
        const css = s.slice(i, end);
        const mapped = cbMapCss(css, toReal ? cbFromProxy : cbToProxy);
        if (mapped !== css) { out.push(s.slice(copied, i), mapped); copied = end; }
      } else if (tag === 'script' && !toReal) {
        const code = s.slice(i, end);
        const kind = cbScriptKindOf(scriptType);
        const mapped = kind ? cbRewriteJs(code, kind) : code;
        if (mapped !== code) { out.push(s.slice(copied, i), mapped); copied = end; }
      }
      i = end;
    }
    CB_TAG_START_RE.lastIndex = Math.min(i, n);
  }
  if (copied === 0) return s;
  out.push(s.slice(copied));
  return out.join('');
}

/** A handler attribute's or javascript: URL's raw (entity-encoded) value, its code rewritten. */
function cbRewriteCodeAttr(kind, raw) {
  const value = cbDecodeEntities(raw);
  const out = kind === 'script' ? cbRewriteJs(value, 'body') : cbRewriteJsUrl(value);
  return out === value ? raw : cbEscapeAttr(out).replace(/'/g, '&#39;');
}

// -- the entry points -----------------------------------------------------------------------

function cbHtmlTarget(el) {
  // innerHTML of a raw-text element is its text: only <style> text holds URLs (as CSS).
  return !(el && el.localName && CB_RAW_TEXT.has(el.localName) && el.namespaceURI !== CB_SVG_NS);
}

// Read-backs: what the page serializes shows the real URLs it wrote (style text: part 65).
cbPatchAccessor(Element.prototype, 'innerHTML', function (v) { return cbHtmlTarget(this) ? cbHtmlToReal(v) : v; });
cbPatchAccessor(Element.prototype, 'outerHTML', (v) => cbHtmlToReal(v));
cbPatchAccessor(ShadowRoot.prototype, 'innerHTML', (v) => cbHtmlToReal(v));
for (const proto of [Element.prototype, ShadowRoot.prototype]) cbPatchMethod(proto, 'getHTML', null, cbHtmlToReal);
if (window.XMLSerializer) cbPatchMethod(XMLSerializer.prototype, 'serializeToString', null, cbHtmlToReal);

cbPatchAccessor(Element.prototype, 'innerHTML', null, function (v) {
  if (this instanceof HTMLStyleElement) return typeof v === 'string' ? cbMapCss(v, cbToProxy) : v;
  return cbHtmlTarget(this) ? cbRewriteHtml(v) : v;
});
cbPatchAccessor(ShadowRoot.prototype, 'innerHTML', null, (v) => cbRewriteHtml(v));
cbPatchAccessor(Element.prototype, 'outerHTML', null, (v) => cbRewriteHtml(v));
cbPatchMethod(Element.prototype, 'insertAdjacentHTML', (args) => cbMapArg(args, 1, cbRewriteHtml));
cbPatchMethod(Element.prototype, 'setHTMLUnsafe', (args) => cbMapArg(args, 0, cbRewriteHtml));
cbPatchMethod(ShadowRoot.prototype, 'setHTMLUnsafe', (args) => cbMapArg(args, 0, cbRewriteHtml));
cbPatchMethod(Range.prototype, 'createContextualFragment', (args) => cbMapArg(args, 0, cbRewriteHtml));
cbPatchMethod(DOMParser.prototype, 'parseFromString', (args) =>
  (String(args[1]).toLowerCase() === 'text/html' ? cbMapArg(args, 0, cbRewriteHtml) : args));
cbPatchMethod(Document, 'parseHTMLUnsafe', (args) => cbMapArg(args, 0, cbRewriteHtml));
for (const name of ['write', 'writeln']) {
  cbPatchMethod(Document.prototype, name, (args) => args.map((a) => (typeof a === 'string' ? cbRewriteHtml(a) : a)));
}
