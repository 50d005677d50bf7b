// What the buttons of the live list do. Each action calls the API, says what happened, and asks
// for a refresh so the list shows the outcome. A button already at work ignores more presses.
function nameOf(sid, pid) {
  var nodes = rendered.get(sid);
  var row = nodes && nodes.rows.get(pid);
  return row ? row.name.textContent : "the visitor";
}

function showLink(sid, url) {
  var nodes = rendered.get(sid);
  if (!nodes) { return; }
  nodes.linkInput.value = url;
  show(nodes.linkRow, true);
}

function showPin(sid, data) {
  var nodes = rendered.get(sid);
  if (!nodes) { return; }
  setText(nodes.pinOut, pinText(data.pin));
  setAttr(nodes.pinOut, "data-pin", String(data.pin));
  setText(nodes.pinHelp, pinHelp(data));
  show(nodes.pinRow, true);
}

var ACTIONS = {
  open: function (sid) {
    return openAsAgent(sid).then(function () { say("Opened session " + sid + " as the agent in a new tab."); });
  },
  link: function (sid) {
    return visitorLink(sid).then(function (url) {
      showLink(sid, url);
      return copyText(url, null);
    }).then(function (ok) { copied(ok, "The visitor link of session " + sid); });
  },
  "copy-link": function (sid) {
    var nodes = rendered.get(sid);
    return copyText(nodes.linkInput.value, nodes.linkInput).then(function (ok) { copied(ok, "Visitor link"); });
  },
  pin: function (sid) {
    return newPin(sid).then(function (data) {
      showPin(sid, data);
      say("PIN " + pinText(data.pin) + " for session " + sid + ". " + pinHelp(data));
    });
  },
  "copy-pin": function (sid) {
    var nodes = rendered.get(sid);
    return copyText(nodes.pinOut.getAttribute("data-pin") || "", null).then(function (ok) { copied(ok, "PIN"); });
  },
  end: function (sid) {
    return confirmAction("End session " + sid + "? Everyone in it is shown the end page.", "End session")
      .then(function (yes) {
        if (!yes) { return null; }
        return api("DELETE", sessionPath(sid)).then(function () {
          endedHere(sid);
          say("Session " + sid + " ended.");
        });
      });
  },
  approve: function (sid, pid) {
    var name = nameOf(sid, pid);
    return api("POST", sessionPath(sid, "/participants/" + encodeURIComponent(pid) + "/approve")).then(function () {
      say(name + " approved: joining session " + sid + ".");
    });
  },
  give: function (sid, pid) {
    var name = nameOf(sid, pid);
    return api("POST", sessionPath(sid, "/control"), { participant: pid }).then(function () {
      say(name + " has control of session " + sid + ".");
    });
  },
  take: function (sid) {
    var nodes = rendered.get(sid);
    var leader = nodes ? nodes.leader : "";
    return api("POST", sessionPath(sid, "/control"), { participant: leader }).then(function () {
      say("You have control of session " + sid + " again.");
    });
  },
  remove: function (sid, pid) {
    var name = nameOf(sid, pid);
    return confirmAction("Remove " + name + " from session " + sid + "? Their link stops working.", "Remove")
      .then(function (yes) {
        if (!yes) { return null; }
        return api("DELETE", sessionPath(sid, "/participants/" + encodeURIComponent(pid))).then(function () {
          say(name + " was removed from session " + sid + ".");
        });
      });
  }
};

function wireActions() {
  $("sessions").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-act]");
    if (!button) { return; }
    var act = ACTIONS[button.getAttribute("data-act")];
    var sid = button.getAttribute("data-sid");
    var pid = button.getAttribute("data-pid");
    busy(button, function () { return act(sid, pid); }).then(changed, function (error) {
      failed(error);
      changed();
    });
  });
}
