// What an agent hands out or opens for a session: the agent's own page (a single-use leader
// link, fresh from the API unless the one the session was created with is still unused), a
// named single-use visitor link, and a PIN the visitor types at the control plane's /pin page.
// (The session's own visitor link, valid for its whole life, is known only to the tab that
// started it: the create answer carries it.)
// New tabs are opened with noopener and noreferrer: the session page never gets a handle on the
// console, and control-plane URLs (which carry tickets) never leave as a referrer.
var unusedLeaderLinks = new Map();  // session id -> the create answer's leader_url, until opened

function openTab(url) {
  window.open(url, "_blank", "noopener,noreferrer");
}

function openAsAgent(sid) {
  var unused = unusedLeaderLinks.get(sid);
  if (unused) {
    unusedLeaderLinks.delete(sid);
    openTab(unused);
    return Promise.resolve(unused);
  }
  return api("POST", sessionPath(sid, "/leader-link")).then(function (data) {
    openTab(data.leader_url);
    return data.leader_url;
  });
}

function visitorLink(sid, name) {
  return api("POST", sessionPath(sid, "/visitor-links"), { name: name });
}

function newPin(sid) {
  return api("POST", sessionPath(sid, "/pin"));
}

function pinText(pin) {
  return String(pin).replace(/^(\d{3})(\d{3})$/, "$1 $2");
}

function pinHelp(data) {
  var until = clock(data.expires_at);
  return "The visitor opens " + data.pin_url + " and types it" + (until ? " before " + until : "") + ".";
}

// Copies text; where the clipboard is not available the text on the page (a field's value or
// an element's content) is selected for Ctrl+C instead.
function copyText(text, shown) {
  var selectShown = function () {
    if (shown && typeof shown.select === "function") { shown.focus(); shown.select(); }
    else if (shown) { window.getSelection().selectAllChildren(shown); }
    return false;
  };
  if (!navigator.clipboard || !window.isSecureContext) { return Promise.resolve(selectShown()); }
  return navigator.clipboard.writeText(text).then(function () { return true; }, selectShown);
}

function copied(ok, what) {
  say(ok ? what + " copied to the clipboard." : what + " selected: press Ctrl+C (Cmd+C on a Mac) to copy it.");
}
