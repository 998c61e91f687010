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

  document.addEventListener("htmx:responseError", function (event) {
    showToast(reasonOf(event.detail.xhr));
  });

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

  document.addEventListener("htmx:sendError", function () {
    showToast("The server could not be reached. Check your connection and try again.");
  });
})();
