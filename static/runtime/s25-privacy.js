/* cobrowse runtime, part s25: privacy: masked fields and hidden elements (issue 8).
 *
 * Job: `cbPrivate(el)` says whether an element's values and keys must stay in this browser:
 * a masked field (password inputs, payment-card `autocomplete` fields, `[data-cobrowse-mask]`,
 * the older `[data-cb-mask]`/`.cb-mask`, and the session's `mask_selectors`, config `mask`),
 * or anything inside an element the session hides (`hide_selectors`, config `hide`). Part s30
 * sends neither values nor keys for them. Hidden elements are also blanked on an agent's screen
 * (role leader): a constructed style sheet adopted by the document makes them and everything
 * in them `visibility: hidden`, so the place they take stays and nothing in it shows.
 * Invariants: fail closed: a selector the browser cannot parse is dropped on its own (reported)
 * and the rest still apply; `cbPrivate` answers true when in doubt (an element it cannot
 * judge). Limit: hiding is a screen-side blanking; the page the agent's browser loaded still
 * holds what the site sent (server-side removal is noted in docs/threat-model.md).
 */
const CB_MASK_DEFAULTS = ['input[type=password]', '[autocomplete^="cc-"]', '[data-cobrowse-mask]',
  '[data-cb-mask]', '.cb-mask'];

/** The selectors of a list that this browser parses, each on its own. */
function cbUsableSelectors(list) {
  return (Array.isArray(list) ? list : []).filter((sel) => {
    if (typeof sel !== 'string' || !sel.trim()) return false;
    try {
      document.createDocumentFragment().querySelector(sel);
      return true;
    } catch (e) {
      cbReport(e);
      return false;
    }
  });
}

const CB_HIDE_SELECTORS = cbUsableSelectors(CB.hide);
const CB_PRIVATE_SELECTOR = CB_MASK_DEFAULTS.concat(cbUsableSelectors(CB.mask))
  .concat(CB_HIDE_SELECTORS.map((sel) => sel + ', ' + sel + ' *')).join(', ');

/** True when the element's values and keys must not leave this browser (also when in doubt). */
function cbPrivate(el) {
  if (!el || typeof el.closest !== 'function') return false;
  try {
    return el.closest(CB_PRIVATE_SELECTOR) !== null;
  } catch (e) {
    cbReport(e);
    return true;
  }
}

// Agents see hidden elements blanked, in this document (its shadow roots keep their own styles).
if (CB_HIDE_SELECTORS.length && CB.role === 'leader') {
  cbTry(() => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CB_HIDE_SELECTORS.map((sel) => sel + ', ' + sel + ' *').join(', ')
      + ' { visibility: hidden !important; }');
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  });
}

// The server hears the `name`s of this page's masked fields (`privacy`, names only, never
// values), so the audit trail keeps those fields out of the request bodies it records too. Sent
// when the page has loaded, when a masked field takes focus and when a form is submitted; only
// names not sent before from this page, at most 64 a message, each cut at 128 characters.
const cbMaskedSent = new Set();

function cbReportMasked() {
  if (!cbSync.on) return;
  const fresh = [];
  for (const el of document.querySelectorAll(CB_PRIVATE_SELECTOR)) {
    const name = (el.getAttribute && el.getAttribute('name') || '').slice(0, 128);
    if (name && !cbMaskedSent.has(name)) {
      cbMaskedSent.add(name);
      fresh.push(name);
    }
  }
  for (let i = 0; i < fresh.length; i += 64) cbSyncSend({ type: 'privacy', names: fresh.slice(i, i + 64) });
}

document.addEventListener('focusin', (e) => cbTry(() => { if (cbPrivate(e.target)) cbReportMasked(); }), true);
document.addEventListener('submit', () => cbTry(cbReportMasked), true);
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', () => cbTry(cbReportMasked));
} else {
  cbTry(cbReportMasked);
}
