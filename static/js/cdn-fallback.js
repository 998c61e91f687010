// When the CDN copy of Pico CSS or htmx did not load (a firewall, a flaky
// network, an SRI mismatch), load the same pinned file from our own server
// (its URL is the CDN tag's data-fallback; same SRI hash). A file from 'self'
// under the CSP: no inline handlers, no nonce needed.
//
// Deferred, after the htmx tag: deferred scripts run in order once the
// stylesheets in <head> have loaded or failed, so both checks see the
// outcome of the CDN requests.
(function () {
  "use strict";

  function localCopy(cdnTag, element) {
    element.integrity = cdnTag.integrity;
    element.crossOrigin = "anonymous";
    element.setAttribute("data-fallback-for", cdnTag.tagName.toLowerCase());
    return element;
  }

  // Pico defines its variables on :root; app.css only uses them.
  function picoApplied() {
    return getComputedStyle(document.documentElement).getPropertyValue("--pico-font-family").trim() !== "";
  }

  var sheet = document.querySelector("link[rel=stylesheet][data-fallback]");
  if (sheet && !picoApplied()) {
    var link = localCopy(sheet, document.createElement("link"));
    link.rel = "stylesheet";
    link.href = sheet.getAttribute("data-fallback");
    sheet.after(link); // where the CDN copy was: before app.css, which builds on Pico
  }

  var htmxTag = document.querySelector("script[data-fallback]");
  if (htmxTag && !window.htmx) {
    // htmx starts on DOMContentLoaded, or at once if the document is already
    // complete; a copy that arrived in between would wait for an event that
    // has passed. So it is added once the page has loaded (until then the
    // page works as it does without JavaScript).
    window.addEventListener("load", function () {
      var script = localCopy(htmxTag, document.createElement("script"));
      script.src = htmxTag.getAttribute("data-fallback");
      document.head.appendChild(script);
    });
  }
})();
