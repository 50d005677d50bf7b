/* cobrowse runtime, part 80: form submission.
 *
 * Job: whatever way a form is sent (form.submit(), requestSubmit(), a click on a submit
 * button, Enter in a field), the action and the submitter's formaction it uses are proxy URLs.
 * The `action`/`formAction` properties and setAttribute already store proxy URLs (part 60);
 * this part repairs attributes that reached the DOM some other way, just before submission.
 * Invariants: the browser computes the action after the `submit` event, so fixing it in a
 * capturing listener is in time; form.submit() fires no event, so it is wrapped too.
 */
function cbFixUrlAttr(el, name) {
  if (!el || typeof el.getAttribute !== 'function') return;
  const value = CBN.getAttribute.call(el, name);
  if (value === null) return;
  const mapped = cbToProxy(value);
  if (mapped !== value) CBN.setAttribute.call(el, name, mapped);
}

function cbFixForm(form, submitter) {
  cbFixUrlAttr(form, 'action');
  if (submitter) cbFixUrlAttr(submitter, 'formaction');
}

cbPatchMethod(HTMLFormElement.prototype, 'submit', function (args) {
  cbFixForm(this, null);
  return args;
});
cbPatchMethod(HTMLFormElement.prototype, 'requestSubmit', function (args) {
  cbFixForm(this, args[0]);
  return args;
});
document.addEventListener('submit', (e) => cbTry(() => cbFixForm(e.target, e.submitter)), true);
