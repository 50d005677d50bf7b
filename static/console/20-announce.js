// Telling the agent what happened: #status is a polite live region for outcomes, #error an
// alert for failures. Buttons show they are working with aria-busy, never by being disabled:
// disabling the focused button would throw keyboard focus back to the top of the page.

// Something the agent did may have changed the live list: whoever keeps it current listens.
var CHANGED = "console:changed";
function changed() { document.dispatchEvent(new Event(CHANGED)); }

function say(text) {
  $("error").textContent = "";
  $("status").textContent = text;
}

function alarm(error) {
  $("status").textContent = "";
  $("error").textContent = error && error.message ? error.message : String(error);
}

// A field the agent must correct: marked for assistive technology, the reason said, focus on it.
function invalid(field, message) {
  field.setAttribute("aria-invalid", "true");
  alarm(message);
  field.focus();
}

function busy(button, work) {
  if (button.getAttribute("aria-busy") === "true") { return Promise.resolve(null); }
  button.setAttribute("aria-busy", "true");
  var done = function () { button.removeAttribute("aria-busy"); };
  return Promise.resolve().then(work).then(function (value) { done(); return value; },
                                           function (error) { done(); throw error; });
}

function clock(iso) {
  if (!iso) { return ""; }
  var when = new Date(iso);
  return isNaN(when.getTime()) ? "" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
