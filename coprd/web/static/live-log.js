// The build page's live log: asks the server for the log from the last offset it has,
// appends what comes (as text, never as HTML) and stops once the task has ended and the
// whole log is shown. No framework, no build step.
(function () {
  "use strict";
  var pre = document.getElementById("live-log");
  if (!pre || !pre.dataset.url) { return; }
  var status = document.getElementById("live-status");
  var url = pre.dataset.url;
  var full = pre.dataset.full;
  var offset = null;
  var failures = 0;
  var IDLE_MS = 2000, BUSY_MS = 100, MAX_CHARS = 2000000;

  function say(text) {
    if (!status) { return; }
    status.textContent = text + " ";
    if (full) {
      var link = document.createElement("a");
      link.href = full;
      link.textContent = "builder-live.log";
      status.appendChild(document.createTextNode("The full log: "));
      status.appendChild(link);
    }
  }

  function atBottom() {
    return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
  }

  function append(text) {
    if (!text) { return; }
    var follow = atBottom();
    var shown = pre.textContent + text;
    if (shown.length > MAX_CHARS) {
      shown = "…\n" + shown.slice(shown.length - MAX_CHARS / 2);
    }
    pre.textContent = shown;
    if (follow) { pre.scrollTop = pre.scrollHeight; }
  }

  function poll() {
    var ask = offset === null ? url : url + "?offset=" + offset;
    fetch(ask, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (chunk) {
        failures = 0;
        if (offset === null) {
          pre.textContent = chunk.start > 0 ? "… (the start of the log is in the full log)\n" : "";
        }
        append(chunk.text);
        offset = chunk.next;
        if (!chunk.eof) {
          window.setTimeout(poll, BUSY_MS);
        } else if (chunk.ended) {
          say(chunk.found ? "The task has ended (" + chunk.state + "); reload the page for its results."
                          : "The task ended (" + chunk.state + ") without a log.");
        } else {
          say(chunk.found ? "Following the log while the task runs (" + chunk.state + ")…"
                          : "Waiting for the task to start (" + chunk.state + ")…");
          window.setTimeout(poll, IDLE_MS);
        }
      })
      .catch(function (error) {
        failures += 1;
        if (failures >= 5) {
          say("Stopped following the log: " + error.message + ".");
          return;
        }
        window.setTimeout(poll, IDLE_MS * failures);
      });
  }

  poll();
}());
