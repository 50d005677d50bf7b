// Finding a visitor by the short id the snippet shows them, and starting to watch: the API
// answers a single-use, short-lived watch URL, opened at once in a new tab. The link stays on
// the page in case the browser held the tab back.
var SHORT_ID = /^[A-Za-z0-9-]{3,32}$/;

function showWatchLink(shortId, data) {
  var out = $("watch-out");
  out.textContent = "";
  var until = clock(data.expires_at);
  out.appendChild(document.createTextNode("Watching visitor " + shortId + " in a new tab. If none opened, use "));
  out.appendChild(el("a", { href: data.watch_url, target: "_blank", rel: "noopener noreferrer", id: "watch-link",
                            text: "this watch link" }));
  out.appendChild(document.createTextNode(until ? " (works once, until " + until + ")." : " (works once)."));
  show(out, true);
}

function wireWatch() {
  $("short-id").addEventListener("input", function () { $("short-id").removeAttribute("aria-invalid"); });
  $("watch").addEventListener("submit", function (event) {
    event.preventDefault();
    var shortId = $("short-id").value.trim().replace(/\s+/g, "");
    if (!SHORT_ID.test(shortId)) {
      invalid($("short-id"), "Enter the visitor's id as they read it out: letters and digits, for example K7M2QX.");
      return;
    }
    var body = { agent: { id: AGENT_ID, name: $("name").value.trim() || "Agent" } };
    busy($("watch-button"), function () {
      return api("POST", "/api/v1/visitors/" + encodeURIComponent(shortId) + "/watch_url", body);
    }).then(function (data) {
      if (!data) { return; }
      openTab(data.watch_url);
      showWatchLink(shortId, data);
      say("Watching visitor " + shortId + ": the session opened in a new tab.");
      changed();
    }).catch(function (error) {
      if (error.status === 404) {
        error = new ApiError(404, "No visitor with the id " + shortId + " is on your site now. Ask the visitor to "
                                  + "read the id again, with the page still open.", 0);
      }
      failed(error);
    });
  });
}
