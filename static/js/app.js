// Small behaviour of our own. Loaded from 'self' under the CSP; no eval.
(function () {
  "use strict";

  function showToast(message) {
    var toast = document.getElementById("toast");
    if (!toast) { return; }
    toast.textContent = message; // text, never HTML
    toast.hidden = false;
    window.clearTimeout(showToast.timer);
    showToast.timer = window.setTimeout(function () { toast.hidden = true; }, 6000);
  }

  // htmx swaps no error response (4xx, 5xx), so every refused htmx action
  // shows its reason here: the JSON error's message (what the server sends
  // htmx), or else the words of an HTML answer (an error page, a fragment
  // from a proxy), read as text and never inserted as HTML.
  var GENERIC = "Something went wrong. Please try again.";

  function reasonOf(xhr) {
    var text = xhr.responseText || "";
    try {
      var body = JSON.parse(text);
      return (body && body.error && body.error.message) || GENERIC;
    } catch (notJson) { /* an HTML or plain-text answer */ }
    var doc = new DOMParser().parseFromString(text, "text/html");
    var part = doc.querySelector("[data-error-message], .error-page p, .flash-error, main") || doc.body;
    var words = part ? part.textContent.replace(/\s+/g, " ").trim() : "";
    return words ? words.slice(0, 300) : GENERIC;
  }

  // Review form: typing in "your own title" selects that choice; picking a
  // ranked title copies it into the box, ready to be edited.
  document.addEventListener("input", function (event) {
    var id = event.target.getAttribute && event.target.getAttribute("data-selects");
    var radio = id && document.getElementById(id);
    if (radio) { radio.checked = true; }
  });
  document.addEventListener("change", function (event) {
    var title = event.target.getAttribute && event.target.getAttribute("data-title");
    var box = title !== null && event.target.form && event.target.form.elements.namedItem("title");
    if (box) { box.value = title; }
  });

  // A fragment that follows slow work (an apply, a run, a sync) asks for
  // itself again a second after each answer ("load delay:1s"). htmx swaps
  // no failed answer, so one lost poll (the network, a busy server's 5xx or
  // 429) ended the chain and left "Applying..." on screen for good. Such a
  // fragment (data-poll) asks again after a growing pause: 2, 4, 8... up to
  // 30 seconds, or the server's Retry-After when longer (at most 2 minutes).
  // Another 4xx (the thing is gone, access was withdrawn) ends it, and so do
  // POLL_MAX_FAILURES failures in a row, with a notice to reload. Only the
  // first failure of a row shows its reason.
  var POLL_EVENT = "yco-poll";
  var POLL_MAX_WAIT_MS = 30000;
  var RETRY_AFTER_MAX_MS = 120000;
  var POLL_MAX_FAILURES = 20;

  function isPoller(elt) {
    return Boolean(elt && elt.hasAttribute && elt.hasAttribute("data-poll"));
  }

  function pollFailures(elt) {
    return Number(elt.getAttribute("data-poll-failures") || "0");
  }

  function retryAfterMs(xhr) {
    var seconds = Number(xhr && xhr.getResponseHeader("Retry-After"));
    return seconds > 0 ? Math.min(RETRY_AFTER_MAX_MS, seconds * 1000) : 0;
  }

  function pollAgain(elt, xhr) {
    var status = xhr ? xhr.status : 0;
    if (status && status !== 429 && status < 500) { return; }
    var failures = pollFailures(elt) + 1;
    elt.setAttribute("data-poll-failures", String(failures));
    if (failures >= POLL_MAX_FAILURES) {
      showToast("This progress stopped updating. Reload the page to see where the work stands.");
      return;
    }
    var wait = Math.max(Math.min(POLL_MAX_WAIT_MS, 1000 * Math.pow(2, failures)), retryAfterMs(xhr));
    window.setTimeout(function () {
      if (elt.isConnected) { window.htmx.trigger(elt, POLL_EVENT); }
    }, wait);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    if (!isPoller(elt)) {
      showToast(reasonOf(event.detail.xhr));
      return;
    }
    if (pollFailures(elt) === 0) { showToast(reasonOf(event.detail.xhr)); }
    pollAgain(elt, event.detail.xhr);
  });

  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    if (!isPoller(elt) || pollFailures(elt) === 0) {
      showToast("The server could not be reached. Check your connection and try again.");
    }
    if (isPoller(elt)) { pollAgain(elt, null); }
  });
})();
