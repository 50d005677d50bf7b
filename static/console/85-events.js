// Live updates from the server's event stream (GET /api/v1/events, server-sent events), used
// where the server's OpenAPI document lists it. EventSource cannot send the key in a header, so
// the stream is read with fetch; any event (a visitor waiting, joining or leaving, control
// changing, a session starting or ending) refreshes the list at once. While the stream is open
// the polling slows down; when it closes it is opened again, unless the server refused it.
var STREAM_PATH = "/api/v1/events";
var STREAM_RETRY_MS = 3000;
var STREAM_REFUSED = [401, 403, 404, 405];
var streamLoop = false;  // a stream is open or will be reopened

function readStream(response) {
  var reader = response.body.getReader();
  var decoder = new TextDecoder();
  var pending = "";
  streaming = true;
  var next = function () {
    return reader.read().then(function (chunk) {
      if (chunk.done) { return null; }
      pending += decoder.decode(chunk.value, { stream: true });
      var messages = pending.split("\n\n");
      pending = messages.pop();
      if (messages.some(function (m) { return /^data:/m.test(m); })) { refreshSoon(); }
      return next();
    });
  };
  return next();
}

function streamEvents() {
  if (!apiKey()) { return; }
  fetch(STREAM_PATH, {
    headers: { "Authorization": "Bearer " + apiKey(), "Accept": "text/event-stream" },
    cache: "no-store", credentials: "omit"
  }).then(function (response) {
    if (STREAM_REFUSED.indexOf(response.status) >= 0) { return "refused"; }
    return response.ok && response.body ? readStream(response) : null;
  }).catch(function () { return null; }).then(function (outcome) {
    // A stream that was open and closed may have missed events (or the server went away): look now.
    if (streaming) { refreshSoon(); }
    streaming = false;
    if (outcome === "refused") { streamLoop = false; }
    else { setTimeout(streamEvents, STREAM_RETRY_MS); }
  });
}

function startEvents() {
  if (streamLoop || !apiKey()) { return; }
  streamLoop = true;
  api("GET", "/api/v1/openapi.json").then(function (doc) {
    if (doc && doc.paths && doc.paths[STREAM_PATH]) { streamEvents(); }
    else { streamLoop = false; }
  }, function () { streamLoop = false; });
}
