// Asking before what cannot be undone (ending a session, removing a visitor): a modal dialog,
// Cancel focused first so Enter alone never confirms. Answers a promise of true or false.
function confirmAction(text, okLabel) {
  var dialog = $("confirm");
  setText($("confirm-text"), text);
  setText($("confirm-ok"), okLabel);
  dialog.returnValue = "";
  return new Promise(function (resolve) {
    dialog.addEventListener("close", function () { resolve(dialog.returnValue === "ok"); }, { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}
