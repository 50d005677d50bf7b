// The live sessions, each with its participants, who has control, and what the agent can do.
// Rendered from the API's list and updated in place: a session or participant keeps its nodes
// across refreshes, so focus and half-read text stay put. Every action button carries
// data-act (and data-sid, data-pid); one click handler on the list serves them all, and Enter
// and Space reach it as they reach any button. Newly waiting visitors are announced.
var rendered = new Map();  // session id -> the nodes of its list item
var announcedWaiting = new Set();
var TITLE = document.title;

var STATUS_TEXT = { waiting: "waiting for approval", active: "active", left: "left", removed: "removed" };
var ROLE_TEXT = { leader: "agent", follower: "visitor" };
var SESSION_ACTIONS = [
  ["open", "Open as agent", "", "Open session {s} as the agent in a new tab"],
  ["link", "Visitor link", "secondary", "Create a visitor link for session {s}"],
  ["pin", "PIN", "secondary", "Get a PIN for session {s}"],
  ["end", "End session", "danger", "End session {s}"]
];
var PERSON_ACTIONS = {  // by role: what the agent can do to that participant
  leader: [["take", "Take control", "secondary", "Take control back in session {s}"]],
  follower: [
    ["approve", "Approve", "", "Approve {p} into session {s}"],
    ["give", "Give control", "secondary", "Give control to {p}"],
    ["remove", "Remove", "danger", "Remove {p} from session {s}"]
  ]
};

function actionButton(spec, sid, pid, name) {
  var label = spec[3].replace("{s}", sid).replace("{p}", name || "the visitor");
  var props = { type: "button", class: "small " + spec[2], "data-act": spec[0], "data-sid": sid, "aria-label": label,
                text: spec[1] };
  if (pid) { props["data-pid"] = pid; }
  return el("button", props);
}

function statusOf(person) { return person.status || "active"; }

function sessionNodes(session) {
  var sid = session.id;
  var heading = el("h3", { id: "s-" + sid + "-h", tabindex: "-1" });
  var buttons = {};
  SESSION_ACTIONS.forEach(function (spec) { buttons[spec[0]] = actionButton(spec, sid); });
  var timeline = el("a", { class: "button small secondary", href: "/timeline/" + encodeURIComponent(sid),
                           target: "_blank", rel: "noopener noreferrer", text: "Timeline",
                           "aria-label": "Timeline of session " + sid + " (new tab)" });
  var nameInput = el("input", { type: "text", maxlength: "60", required: "", autocomplete: "off",
                               id: "s-" + sid + "-visitor", placeholder: "e.g. Vic" });
  var linkForm = el("form", { class: "row", hidden: "", "data-form": "make-link", "data-sid": sid }, [
    el("label", { for: nameInput.id, text: "Visitor's name" }), nameInput,
    el("button", { type: "submit", class: "small", text: "Create link",
                   "aria-label": "Create a visitor link for session " + sid })
  ]);
  var linkInput = el("input", { readonly: "", "aria-label": "Visitor link of session " + sid, "data-role": "link" });
  var linkRow = el("div", { class: "row", hidden: "" }, [linkInput, actionButton(
    ["copy-link", "Copy", "secondary", "Copy the visitor link of session {s}"], sid)]);
  var agentLink = el("a", { target: "_blank", rel: "noopener noreferrer", "data-role": "agent-link",
                            text: "this agent link" });
  var agentRow = el("p", { class: "muted", hidden: "" }, [document.createTextNode("If no tab opened, use "),
                                                          agentLink, document.createTextNode(" (works once).")]);
  var pinOut = el("output", { class: "pin", "data-role": "pin" });
  var pinHelpText = el("span", { class: "muted" });
  var pinRow = el("div", { class: "row", hidden: "" }, [pinOut, pinHelpText, actionButton(
    ["copy-pin", "Copy PIN", "secondary", "Copy the PIN of session {s}"], sid)]);
  var people = el("tbody");
  var table = el("table", { class: "people" }, [
    el("caption", { class: "muted", text: "Participants" }),
    el("thead", {}, [el("tr", {}, ["Name", "Role", "Status", "Actions"].map(function (h) {
      return el("th", { scope: "col", text: h });
    }))]),
    people
  ]);
  var li = el("li", { class: "session", id: "s-" + sid, "aria-labelledby": heading.id }, [
    heading, el("p", { class: "meta" }),
    el("div", { class: "row" }, [buttons.open, buttons.link, buttons.pin, timeline, buttons.end]),
    el("div", { class: "share" }, [agentRow, linkForm, linkRow, pinRow]), table
  ]);
  return { li: li, heading: heading, meta: li.children[1], linkForm: linkForm, nameInput: nameInput,
           linkRow: linkRow, linkInput: linkInput, pinRow: pinRow, agentRow: agentRow, agentLink: agentLink,
           pinOut: pinOut, pinHelp: pinHelpText, people: people, rows: new Map(), leader: "" };
}

function personNodes(sid, person) {
  var name = el("span");
  var control = el("span", { class: "badge control", text: "has control" });
  var status = el("span", { class: "badge" });
  var buttons = {};
  var specs = PERSON_ACTIONS[person.role] || [];
  specs.forEach(function (spec) { buttons[spec[0]] = actionButton(spec, sid, person.id, person.name); });
  var acts = el("td", { class: "acts" }, specs.map(function (spec) { return buttons[spec[0]]; }));
  var tr = el("tr", { "data-pid": person.id }, [
    el("td", {}, [name, document.createTextNode(" "), control]), el("td"), el("td", {}, [status]), acts
  ]);
  return { tr: tr, name: name, control: control, role: tr.children[1], status: status, buttons: buttons };
}

function updatePerson(nodes, session, person) {
  var status = statusOf(person);
  var inControl = session.controller === person.id;
  var viewOnly = !!(session.options && session.options.view_only);
  setText(nodes.name, person.name || "(no name)");
  show(nodes.control, inControl);
  setText(nodes.role, ROLE_TEXT[person.role] || person.role);
  setText(nodes.status, STATUS_TEXT[status] || status);
  setAttr(nodes.status, "class", "badge " + status);
  var wanted = {
    approve: status === "waiting",
    give: status === "active" && !inControl && !viewOnly,
    take: !!session.controller && !inControl,
    remove: status === "waiting" || status === "active"
  };
  Object.keys(nodes.buttons).forEach(function (act) { show(nodes.buttons[act], wanted[act]); });
}

function updateSession(nodes, session) {
  var agent = session.agent && session.agent.name ? session.agent.name : "";
  setText(nodes.heading, "Session " + session.id);
  setText(nodes.meta, [session.url, agent && "agent " + agent,
                       session.expires_at && "until " + clock(session.expires_at)].filter(Boolean).join(" \u00b7 "));
  var seen = new Set();
  (session.participants || []).forEach(function (person) {
    seen.add(person.id);
    if (person.role === "leader") { nodes.leader = person.id; }
    var row = nodes.rows.get(person.id);
    if (!row) {
      row = personNodes(session.id, person);
      nodes.rows.set(person.id, row);
      nodes.people.appendChild(row.tr);
    }
    updatePerson(row, session, person);
    announceWaiting(session, person);
  });
  nodes.rows.forEach(function (row, pid) {
    if (!seen.has(pid)) { row.tr.remove(); nodes.rows.delete(pid); }
  });
}

function announceWaiting(session, person) {
  var key = session.id + "/" + person.id;
  if (statusOf(person) !== "waiting") { announcedWaiting.delete(key); return; }
  if (announcedWaiting.has(key)) { return; }
  announcedWaiting.add(key);
  say((person.name || "A visitor") + " is waiting for your approval in session " + session.id + ".");
}

// Where focus goes when the control it was on disappears: the next visible action in the same
// row or session, else the session's heading, else the list's heading.
function keepFocus(render) {
  var active = document.activeElement;
  var inside = active && $("sessions").contains(active) ? active : null;
  var item = inside ? inside.closest(".session") : null;
  render();
  if (!inside || visible(inside)) { return; }
  var session = item ? rendered.get(item.id.slice(2)) : null;
  var candidates = session ? Array.prototype.filter.call(session.li.querySelectorAll("button"), visible) : [];
  var next = candidates[0] || (session && session.heading.isConnected ? session.heading : $("live-h"));
  next.focus();
}

// more: the server has more live sessions than one page of the list (the newest are shown).
function renderSessions(sessions, more) {
  keepFocus(function () {
    var list = $("sessions");
    var seen = new Set();
    sessions.forEach(function (session, index) {
      seen.add(session.id);
      var nodes = rendered.get(session.id);
      if (!nodes) {
        nodes = sessionNodes(session);
        rendered.set(session.id, nodes);
      }
      updateSession(nodes, session);
      if (list.children[index] !== nodes.li) { list.insertBefore(nodes.li, list.children[index] || null); }
    });
    rendered.forEach(function (nodes, sid) {
      if (!seen.has(sid)) {
        nodes.li.remove();
        rendered.delete(sid);
        endedHere(sid);  // it ended elsewhere (the agent's toolbar, expiry): its card goes too
      }
    });
  });
  var waiting = sessions.reduce(function (n, session) {
    return n + (session.participants || []).filter(function (p) { return statusOf(p) === "waiting"; }).length;
  }, 0);
  document.title = (waiting ? "(" + waiting + " waiting) " : "") + TITLE;
  setText($("live-count"), sessions.length + (more ? "+" : ""));
  setAttr($("live-count"), "title", more ? "the newest " + sessions.length + " are shown" : "");
  var state = $("live-state");
  state.classList.remove("bad");
  setText(state, sessions.length ? "" : "No live sessions. Start one above, or find a visitor by their id.");
  show(state, !sessions.length);
}

function listProblem(error) {
  var state = $("live-state");
  state.classList.add("bad");
  setText(state, "Could not load the live sessions. " + error.message);
  show(state, true);
}
