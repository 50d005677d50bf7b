// The REST API client. The key comes from "#key=" in the console's URL (then taken out of the
// address bar) or from the key form, and is kept in sessionStorage: this tab only, gone when it
// closes. Every answer becomes data or an ApiError carrying what a person needs to act on it:
// the status (0 when the server could not be reached), a message, and Retry-After in seconds.
var KEY_STORE = "cobrowse-key";
var AGENT_ID = "console";

function takeKeyFromUrl() {
  var params = new URLSearchParams(location.hash.slice(1));
  var key = params.get("key");
  if (key) {
    sessionStorage.setItem(KEY_STORE, key);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function apiKey() { return sessionStorage.getItem(KEY_STORE) || ""; }
function setApiKey(key) { sessionStorage.setItem(KEY_STORE, key); }
function forgetApiKey() { sessionStorage.removeItem(KEY_STORE); }

function ApiError(status, message, retryAfter) {
  this.name = "ApiError";
  this.status = status;
  this.message = message;
  this.retryAfter = retryAfter;
}
ApiError.prototype = Object.create(Error.prototype);

// What each refusal means to the agent; the server's own detail follows where it has one.
var REFUSALS = {
  0: "Cannot reach the cobrowse server: it may be down or restarting. The console keeps trying.",
  401: "The server refused the API key. Enter the key printed by \"cobrowse serve\" or one made with "
       + "\"cobrowse keys create\".",
  403: "This API key may not do that.",
  404: "Not found: the session or visitor is gone.",
  410: "That session has ended.",
  429: "The server is limiting requests."
};

function retryAfterOf(response) {
  var seconds = parseInt(response.headers.get("Retry-After") || "", 10);
  return isFinite(seconds) && seconds > 0 ? seconds : 0;
}

function refusal(status, detail, retryAfter) {
  var known = REFUSALS[status] || ("The server answered HTTP " + status + ".");
  if (status === 429) { known += retryAfter ? " Try again in " + retryAfter + " s." : " Try again in a moment."; }
  if (status === 401 || status === 0) { return known; }
  return detail ? known + " " + detail.charAt(0).toUpperCase() + detail.slice(1) : known;
}

function api(method, path, body) {
  var headers = { "Authorization": "Bearer " + apiKey(), "Accept": "application/json" };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; }
  return fetch(path, {
    method: method, headers: headers, cache: "no-store", credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body)
  }).catch(function () {
    throw new ApiError(0, refusal(0, "", 0), 0);
  }).then(function (response) {
    return response.text().then(function (text) {
      var data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      if (response.ok) { return data; }
      var detail = data && (data.detail || data.error) ? String(data.detail || data.error) : "";
      var wait = retryAfterOf(response);
      throw new ApiError(response.status, refusal(response.status, detail, wait), wait);
    });
  });
}

function sessionPath(sid, rest) {
  return "/api/v1/sessions/" + encodeURIComponent(sid) + (rest || "");
}
