// The notice page's only script: the print button (inline handlers are blocked by the page's CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-notice");
  if (button) button.addEventListener("click", () => window.print());
});
