// Starts Swagger UI (/api/docs) or ReDoc (/api/redoc) on the element that
// names the OpenAPI document. A file from 'self' under the pages' CSP: no
// inline script. When the pinned CDN copy did not load (a firewall, an SRI
// mismatch), the same file is loaded from our own server first (the tag's
// data-fallback, same SRI hash), as static/js/cdn-fallback.js does for pages.
(function () {
  "use strict";

  function fallBack(tag, parent) {
    var copy = document.createElement(tag.tagName.toLowerCase());
    copy.integrity = tag.integrity;
    copy.crossOrigin = "anonymous";
    if (tag.tagName === "LINK") {
      copy.rel = "stylesheet";
      copy.href = tag.getAttribute("data-fallback");
    } else {
      copy.src = tag.getAttribute("data-fallback");
    }
    parent.appendChild(copy);
    return copy;
  }

  function whenLoaded(ready, start) {
    var tag = document.querySelector("script[data-fallback]");
    if (ready() || !tag) {
      start();
      return;
    }
    fallBack(tag, document.body).addEventListener("load", start);
  }

  var sheet = document.querySelector("link[rel=stylesheet][data-fallback]");
  if (sheet && !sheet.sheet) {
    fallBack(sheet, document.head);
  }

  var swagger = document.getElementById("swagger-ui");
  if (swagger) {
    whenLoaded(
      function () { return !!window.SwaggerUIBundle; },
      function () {
        window.SwaggerUIBundle({
          url: swagger.getAttribute("data-spec-url"),
          domNode: swagger,
          deepLinking: true,
          presets: [window.SwaggerUIBundle.presets.apis],
          layout: "BaseLayout",
        });
      }
    );
  }

  var redoc = document.getElementById("redoc");
  if (redoc) {
    whenLoaded(
      function () { return !!window.Redoc; },
      function () { window.Redoc.init(redoc.getAttribute("data-spec-url"), {}, redoc); }
    );
  }
})();
