// Start: take the key from the URL, wire every form and button, and load the live list (or
// ask for a key first).
function main() {
  takeKeyFromUrl();
  linksPressLikeButtons();
  wireKeyForm();
  wireStart();
  wireWatch();
  wireActions();
  document.addEventListener(CHANGED, refreshSoon);
  document.addEventListener(CHANGED, startEvents);
  $("refresh").addEventListener("click", function () {
    say("Refreshing the live sessions\u2026");
    refreshSoon();
  });
  if (apiKey()) { refresh(); startEvents(); }
  else {
    setText($("live-state"), "Enter your API key to see the live sessions.");
    askForKey("The console needs an API key.");
  }
}

main();
