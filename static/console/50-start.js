// Starting a session from a URL, with the options an agent sets most: approval of visitors,
// view only, masked fields. Options left unset are not sent, so the server's defaults apply.
// The new session's card offers the agent's own page, the visitor link and a PIN.
var started = null;  // the session this tab started last: {id, follower_url, ...}
var NAME_STORE = "cobrowse-agent-name";  // the agent's display name, remembered in this browser

function startOptions() {
  var options = {};
  if ($("opt-approval").checked) { options.require_approval = true; }
  if ($("opt-view-only").checked) { options.view_only = true; }
  var masks = $("opt-mask").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  if (masks.length) { options.mask_selectors = masks; }
  return options;
}

function startBody() {
  var body = { url: $("url").value.trim(), agent: { id: AGENT_ID, name: $("name").value.trim() || "Agent" } };
  var options = startOptions();
  if (Object.keys(options).length) { body.options = options; }
  return body;
}

function validUrl(text) {
  try { return /^https?:$/.test(new URL(text).protocol); } catch (e) { return false; }
}

function showStarted(session) {
  started = session;
  unusedLeaderLinks.set(session.id, session.leader_url);
  setText($("sid"), session.id);
  setText($("expires"), session.expires_at ? "until " + clock(session.expires_at) : "");
  $("follower").value = session.follower_url;
  show($("pin-row"), false);
  show($("session"), true);
  $("session").focus();
}

function endedHere(sid) {
  unusedLeaderLinks.delete(sid);
  if (started && started.id === sid) {
    var hadFocus = $("session").contains(document.activeElement);
    started = null;
    show($("session"), false);
    if (hadFocus) { $("url").focus(); }
  }
}

function wireStart() {
  $("name").value = localStorage.getItem(NAME_STORE) || $("name").value;
  $("name").addEventListener("change", function () {
    var name = $("name").value.trim();
    if (name) { localStorage.setItem(NAME_STORE, name); } else { localStorage.removeItem(NAME_STORE); }
  });
  $("url").addEventListener("input", function () { $("url").removeAttribute("aria-invalid"); });
  $("start").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = startBody();
    if (!validUrl(body.url)) {
      invalid($("url"), "Enter the full address of the page to start on, beginning with http:// or https://.");
      return;
    }
    busy($("start-button"), function () {
      say("Starting a session on " + body.url + "\u2026");
      return api("POST", "/api/v1/sessions", body);
    }).then(function (session) {
      if (!session) { return; }
      showStarted(session);
      say("Session " + session.id + " started. Open it as the agent, then give the visitor the link or a PIN.");
      changed();
    }).catch(failed);
  });
  $("open").addEventListener("click", function () {
    if (!started) { return; }
    var sid = started.id;
    busy($("open"), function () { return openAsAgent(sid); }).then(function (url) {
      if (url) { say("Opened session " + sid + " as the agent in a new tab."); }
    }).catch(failed);
  });
  $("copy").addEventListener("click", function () {
    copyText($("follower").value, $("follower")).then(function (ok) { copied(ok, "Visitor link"); });
  });
  $("copy-pin").addEventListener("click", function () {
    var pin = $("pin-out").getAttribute("data-pin") || "";
    copyText(pin, $("pin-out")).then(function (ok) { copied(ok, "PIN"); });
  });
  $("pin-button").addEventListener("click", function () {
    if (!started) { return; }
    busy($("pin-button"), function () { return newPin(started.id); }).then(function (data) {
      if (!data) { return; }
      setText($("pin-out"), pinText(data.pin));
      setAttr($("pin-out"), "data-pin", String(data.pin));
      setText($("pin-help"), pinHelp(data));
      show($("pin-row"), true);
      say("PIN " + pinText(data.pin) + ". " + pinHelp(data));
    }).catch(failed);
  });
}
