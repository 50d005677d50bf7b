// The API key form: a modal dialog shown when the console has no key or the server refused it.
// Escape closes it like any dialog; "Enter key" in the header opens it again. Once a key is
// saved, focus goes to the first field of the console, and the list loads.
var keyJustSaved = false;

function showKeyState() {
  var has = !!apiKey();
  setText($("key-state"), has ? "API key set for this tab" : "No API key");
  setText($("forget"), has ? "Change key" : "Enter key");
  show($("forget"), true);
}

function askForKey(reason) {
  var dialog = $("key-dialog");
  setText($("key-error"), reason || "");
  $("key").value = "";
  if (!dialog.open) { dialog.showModal(); }
  $("key").focus();
}

function wireKeyForm() {
  $("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = $("key").value.trim();
    if (!key) {
      setText($("key-error"), "Enter the API key first.");
      $("key").focus();
      return;
    }
    setApiKey(key);
    keyJustSaved = true;
    $("key-dialog").close();
    showKeyState();
    say("API key saved for this tab.");
    changed();
  });
  $("forget").addEventListener("click", function () {
    askForKey(apiKey() ? "" : "The console needs an API key.");
  });
  $("key-dialog").addEventListener("close", function () {
    showKeyState();
    (keyJustSaved ? $("url") : $("forget")).focus();
    keyJustSaved = false;
  });
  showKeyState();
}

// Every failure goes through here: a refused key opens the key form, the rest is announced.
function failed(error) {
  if (error && error.status === 401) {
    forgetApiKey();
    showKeyState();
    setText($("live-state"), "Enter your API key to see the live sessions.");
    askForKey(error.message);
  }
  alarm(error);
}
