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

  // htmx does not swap error responses: show the JSON error's message instead.
  document.addEventListener("htmx:responseError", function (event) {
    var message = "Something went wrong. Please try again.";
    try {
      var body = JSON.parse(event.detail.xhr.responseText);
      if (body && body.error && body.error.message) { message = body.error.message; }
    } catch (ignored) { /* not JSON: keep the generic message */ }
    showToast(message);
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
