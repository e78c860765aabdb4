// Gatehouse console: small progressive enhancement only (no inline
// script: the CSP allows script from 'self').
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: <button data-copy="element-id">.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        b.textContent = "Copied";
      });
    });
  });
  // Tables wider than the screen scroll sideways in their region; say so
  // above the table while it does (phone widths).
  var wraps = document.querySelectorAll(".table-wrap");
  wraps.forEach(function (w) {
    var hint = document.createElement("p");
    hint.className = "muted scroll-hint";
    hint.textContent = "The table scrolls sideways: swipe it, or focus it and use the arrow keys.";
    hint.hidden = true;
    w.parentNode.insertBefore(hint, w);
    w.scrollHint = hint;
  });
  function markScrolling() {
    wraps.forEach(function (w) { w.scrollHint.hidden = w.scrollWidth <= w.clientWidth + 1; });
  }
  markScrolling();
  window.addEventListener("resize", markScrolling);
  // Confirmation: <form data-confirm="question">.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
});
