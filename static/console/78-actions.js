// What the buttons of the live list do. Each action calls the API, says what happened, and asks
// for a refresh so the list shows the outcome. A button already at work ignores more presses.
function nameOf(sid, pid) {
  var nodes = rendered.get(sid);
  var row = nodes && nodes.rows.get(pid);
  return row ? row.name.textContent : "the visitor";
}

function showLink(sid, data) {
  var nodes = rendered.get(sid);
  if (!nodes) { return; }
  nodes.linkInput.value = data.url;
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
    return openAsAgent(sid).then(function (url) {
      // Opened after a round trip to the API: a browser may have held the tab back, so the link stays here.
      var nodes = rendered.get(sid);
      if (nodes) {
        setAttr(nodes.agentLink, "href", url);
        show(nodes.agentRow, true);
      }
      say("Opened session " + sid + " as the agent in a new tab.");
    });
  },
  link: function (sid) {
    var nodes = rendered.get(sid);
    show(nodes.linkForm, true);
    nodes.nameInput.focus();
    return Promise.resolve(null);
  },
  "make-link": function (sid) {
    var nodes = rendered.get(sid);
    var name = nodes.nameInput.value.trim();
    if (!name) {
      invalid(nodes.nameInput, "Enter the visitor's name first: the link is made for one visitor.");
      return Promise.resolve(null);
    }
    nodes.nameInput.removeAttribute("aria-invalid");
    return visitorLink(sid, name).then(function (data) {
      showLink(sid, data);
      return copyText(data.url, nodes.linkInput).then(function (ok) {
        copied(ok, "A visitor link for " + data.name + " (works once, until " + clock(data.expires_at) + ")");
      });
    });
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
    var pin = nodes.pinOut.getAttribute("data-pin") || "";
    return copyText(pin, nodes.pinOut).then(function (ok) { copied(ok, "PIN"); });
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
    return api("POST", sessionPath(sid, "/control"), { participant: nodes.leader }).then(function (data) {
      say(data && data.action === "requested"
        ? "The visitor driving session " + sid + " is asked to hand control back."
        : "You have control of session " + sid + " again.");
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

function runAction(button, act, sid, pid) {
  busy(button, function () { return ACTIONS[act](sid, pid); }).then(changed, function (error) {
    failed(error);
    changed();
  });
}

function wireActions() {
  var list = $("sessions");
  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-act]");
    if (!button) { return; }
    var get = function (name) { return button.getAttribute(name); };
    runAction(button, get("data-act"), get("data-sid"), get("data-pid"));
  });
  list.addEventListener("submit", function (event) {
    var form = event.target;
    event.preventDefault();
    var submit = form.querySelector("button[type=submit]");
    runAction(submit, form.getAttribute("data-form"), form.getAttribute("data-sid"), null);
  });
}
