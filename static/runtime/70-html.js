/* cobrowse runtime, part 70: HTML strings the page hands to the parser.
 *
 * Job: innerHTML/outerHTML setters, insertAdjacentHTML, setHTMLUnsafe, document.write/writeln,
 * Range.createContextualFragment and iframe.srcdoc get their URL-bearing attributes mapped
 * (tables in part 60) before the browser parses them, so nothing starts loading from a real
 * URL. DOMParser and parseHTMLUnsafe are left alone: their documents are inert.
 * The rewriter is a small linear scanner over tags, not a parser: text, comments, closing tags
 * and raw-text element bodies are copied unchanged, and only attribute values in the tables
 * are replaced (scheme and authority only). A tag split across document.write calls escapes
 * it; the mutation net (part 90) catches those.
 * Invariants: a string with no "//" or "\\" is returned as is (the common case costs one
 * scan); non-strings (TrustedHTML) pass through untouched; never throws.
 */
const CB_RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed',
  'noframes', 'noscript', 'plaintext']);
const CB_SVG_TAGS = new Set(['svg', 'image', 'use', 'feimage', 'textpath', 'pattern', 'lineargradient',
  'radialgradient', 'filter', 'mpath', 'animate', 'set', 'animatemotion', 'animatetransform', 'tref', 'cursor']);
const CB_SPACE = /[\t\n\f\r ]/;

function cbHtmlAttrKind(tag, name) {
  if (name === 'xlink:href' || (name === 'href' && CB_SVG_TAGS.has(tag))) return 'url';
  const table = CB_URL_ATTRS[tag];
  return (table && table[name]) || CB_ANY_ATTRS[name];
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

function cbRewriteHtml(html) {
  if (typeof html !== 'string' || (!html.includes('//') && !html.includes('\\'))) return html;
  return cbTry(() => cbRewriteHtmlUnsafe(html), html);
}

function cbRewriteHtmlUnsafe(s) {
  const n = s.length;
  const out = [];
  let copied = 0;
  let i = 0;
  while (i < n) {
    const lt = s.indexOf('<', i);
    if (lt < 0) break;
    const next = s[lt + 1] || '';
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (next === '!' || next === '?' || next === '/') {
      const end = s.indexOf('>', lt + 2);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (!/[a-zA-Z]/.test(next)) { i = lt + 1; continue; }
    // Tag name.
    let j = lt + 1;
    while (j < n && !CB_SPACE.test(s[j]) && s[j] !== '/' && s[j] !== '>') j += 1;
    const tag = s.slice(lt + 1, j).toLowerCase();
    // Attributes.
    while (j < n) {
      while (j < n && (CB_SPACE.test(s[j]) || s[j] === '/')) j += 1;
      if (j >= n || s[j] === '>') break;
      const nameStart = j;
      j += 1; // a name may start with "="
      while (j < n && !CB_SPACE.test(s[j]) && s[j] !== '/' && s[j] !== '>' && s[j] !== '=') j += 1;
      const name = s.slice(nameStart, j).toLowerCase();
      let k = j;
      while (k < n && CB_SPACE.test(s[k])) k += 1;
      if (s[k] !== '=') continue;
      k += 1;
      while (k < n && CB_SPACE.test(s[k])) k += 1;
      let vStart;
      let vEnd;
      let quote = '';
      if (s[k] === '"' || s[k] === "'") {
        quote = s[k];
        vStart = k + 1;
        vEnd = s.indexOf(quote, vStart);
        if (vEnd < 0) vEnd = n;
        j = Math.min(n, vEnd + 1);
      } else {
        vStart = k;
        vEnd = k;
        while (vEnd < n && !CB_SPACE.test(s[vEnd]) && s[vEnd] !== '>') vEnd += 1;
        j = vEnd;
      }
      const kind = cbHtmlAttrKind(tag, name);
      if (!kind) continue;
      const raw = s.slice(vStart, vEnd);
      let value = kind === 'html' ? cbEscapeAttr(cbRewriteHtml(cbDecodeEntities(raw))) : CB_KINDS[kind][0](raw);
      if (value === raw) continue;
      if (!quote && /[\s"'=<>`]/.test(value)) value = '"' + value.replace(/"/g, '&quot;') + '"';
      else if (quote === "'") value = value.replace(/'/g, '&#39;');
      out.push(s.slice(copied, vStart), value);
      copied = vEnd;
    }
    i = j + 1;
    if (CB_RAW_TEXT.has(tag)) {
      const close = s.toLowerCase().indexOf('</' + tag, i);
      const end = close < 0 ? n : close;
      if (tag === 'style') {
        const css = s.slice(i, end);
        const mapped = cbMapCss(css, cbToProxy);
        if (mapped !== css) { out.push(s.slice(copied, i), mapped); copied = end; }
      }
      i = end;
    }
  }
  if (copied === 0) return s;
  out.push(s.slice(copied));
  return out.join('');
}

// -- the entry points -----------------------------------------------------------------------

function cbHtmlTarget(el) {
  // innerHTML of a raw-text element is its text: only <style> text holds URLs (as CSS).
  return !(el && el.localName && CB_RAW_TEXT.has(el.localName) && el.namespaceURI !== CB_SVG_NS);
}

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
for (const name of ['write', 'writeln']) {
  cbPatchMethod(Document.prototype, name, (args) => args.map((a) => (typeof a === 'string' ? cbRewriteHtml(a) : a)));
}
