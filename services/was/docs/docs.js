// Starts Swagger UI (vendored from the pinned swagger-ui-py package) on the API's own
// OpenAPI document. A file, not an inline script, so the page's CSP forbids inline code.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,
    tryItOutEnabled: true,
    persistAuthorization: false,
  });
});
