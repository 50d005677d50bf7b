/* cobrowse runtime, part s65: a visitor's state handed over to this page (docs/snippet.md).
 *
 * Job: when the page's config carries `seed` (proxy/seeding.py gives it once to each
 * participant: the storage with the first page of the seed's origin, the form values with the
 * first page at the form's URL), write `seed.local` / `seed.session` into this origin's
 * localStorage / sessionStorage now, before any of the page's own scripts run (the runtime is
 * the document's first script), and fill `seed.form` (`[{selector, name, value}]`) once the
 * document is parsed: a field is found by its selector, else by its name; checkboxes and radios
 * take "on"/"off"; each filled field fires `input` and `change` as typing would.
 * Invariants: writes go through the native Storage methods and value setters inside
 * cbApplying, so nothing here is captured and sent to the others (each participant's page
 * takes its own copy of the seed); a malformed seed or a field that is not there is skipped,
 * never thrown; private fields (cbPrivate: passwords, card fields, masked) are never filled.
 */
const cbSeed = CB.seed && typeof CB.seed === 'object' ? CB.seed : null;

function cbSeedStorage(area, entries) {
  const storage = cbStorageFor(area);
  if (!storage || !entries || typeof entries !== 'object') return;
  Object.keys(entries).forEach((key) => {
    cbTry(() => cbStorageNative.setItem.call(storage, key, String(entries[key])));
  });
}

function cbSeedField(field) {
  if (!field || typeof field.value !== 'string') return false;
  let el = field.selector ? cbTry(() => document.querySelector(String(field.selector)), null) : null;
  if (!el && field.name) el = cbTry(() => document.getElementsByName(String(field.name))[0], null);
  if (!el || !CB_FIELD_TAGS.has(el.localName) || cbPrivate(el)) return false;
  if (el.localName === 'input' && CB_CHECKABLE.has(el.type)) {
    cbNativeValue.checked.set.call(el, field.value === 'on');
  } else {
    cbSetValue(el, field.value);
  }
  cbFire(el, 'input');
  cbFire(el, 'change');
  return true;
}

function cbSeedForm(fields) {
  if (!Array.isArray(fields)) return;
  let left = fields;
  const fill = () => cbApplying(() => { left = left.filter((f) => !cbTry(() => cbSeedField(f), false)); });
  const late = () => { if (left.length) fill(); };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fill, { once: true });
  else fill();
  // Fields a script builds after parsing get a second chance when the page has loaded.
  window.addEventListener('load', late, { once: true });
}

if (cbSeed) {
  cbApplying(() => {
    cbSeedStorage('local', cbSeed.local);
    cbSeedStorage('session', cbSeed.session);
  });
  cbSeedForm(cbSeed.form);
}
