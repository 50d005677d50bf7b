// Keeping the live list current: the console asks for it every few seconds (less often while the
// event stream is up, see 85-events.js), at once after any action of its own, and backs off when
// the server is unreachable (up to MAX_WAIT_MS) or asks to wait (429 Retry-After). A refused key
// stops the polling until a new key is saved.
var POLL_MS = 2000;
var STREAMING_POLL_MS = 10000;
var streaming = false;  // set by the event stream while it is open
var MAX_WAIT_MS = 15000;
var LIST_LIMIT = 100;  // sessions shown, newest first; a "+" on the count says there are more
var refreshTimer = 0;
var failures = 0;
var inFlight = false;
var refreshAgain = false;  // asked for while one was in flight

function schedule(ms) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, ms);
}

function refreshSoon() { schedule(0); }

function waitAfter(error) {
  if (error.status === 429) { return Math.max(1, error.retryAfter || 5) * 1000; }
  failures += 1;
  return Math.min(MAX_WAIT_MS, POLL_MS * Math.pow(2, failures - 1));
}

function refresh() {
  clearTimeout(refreshTimer);
  if (!apiKey()) { return; }
  if (inFlight) { refreshAgain = true; return; }
  inFlight = true;
  api("GET", "/api/v1/sessions?status=live&limit=" + LIST_LIMIT).then(function (data) {
    failures = 0;
    renderSessions((data && data.sessions) || [], !!(data && data.next_cursor));
    return streaming ? STREAMING_POLL_MS : POLL_MS;
  }, function (error) {
    if (error.status === 401) { failed(error); return 0; }
    var wait = waitAfter(error);
    listProblem(error.status === 429
      ? new ApiError(429, REFUSALS[429] + " The list is loaded again in " + Math.round(wait / 1000) + " s.", 0)
      : error);
    return wait;
  }).then(function (next) {
    inFlight = false;
    if (refreshAgain) { refreshAgain = false; schedule(0); }
    else if (next) { schedule(next); }
  });
}
