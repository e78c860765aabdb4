// Gatehouse console: an automated check of accessibility basics, run in the
// page by the browser test. It returns a list of defects (strings); empty
// means the page passed. Checks: form fields have labels; the ids that
// aria-labelledby, aria-describedby and label[for] name exist; header, main
// (and nav when signed in) landmarks; images and SVGs have text alternatives;
// no horizontal overflow; scrollable regions focusable and named; text of
// at least opts.minFontPx; text contrast of at least opts.minContrast.
(function (opts) {
  "use strict";
  var defects = [];
  function describe(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) { s += "#" + el.id; }
    if (el.getAttribute("name")) { s += "[name=" + el.getAttribute("name") + "]"; }
    return s;
  }
  function visible(el) {
    var cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden") { return false; }
    return el.getClientRects().length > 0;
  }

  // Labels.
  document.querySelectorAll("input, select, textarea").forEach(function (el) {
    var type = (el.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset", "image"].indexOf(type) >= 0) { return; }
    var named = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") ||
      (el.getAttribute("aria-labelledby") && document.getElementById(el.getAttribute("aria-labelledby")));
    if (!named) { defects.push("unlabelled field " + describe(el)); }
  });

  // References: every id that aria-labelledby, aria-describedby or a
  // label's for names exists.
  document.querySelectorAll("[aria-labelledby], [aria-describedby], label[for]").forEach(function (el) {
    ["aria-labelledby", "aria-describedby", "for"].forEach(function (a) {
      (el.getAttribute(a) || "").split(/\s+/).forEach(function (id) {
        if (id && !document.getElementById(id)) { defects.push(a + " names a missing id " + id + " on " + describe(el)); }
      });
    });
  });

  // Landmarks.
  var marks = ["header", "main"];
  if (opts.nav) { marks.push("nav"); }
  marks.forEach(function (m) {
    if (!document.querySelector(m + ", [role=" + (m === "header" ? "banner" : m === "nav" ? "navigation" : m) + "]")) {
      defects.push("no " + m + " landmark");
    }
  });

  // Text alternatives.
  document.querySelectorAll("img").forEach(function (el) {
    if (!el.hasAttribute("alt")) { defects.push("image without alt " + describe(el)); }
  });
  document.querySelectorAll("svg").forEach(function (el) {
    if (el.parentElement && el.parentElement.closest("svg")) { return; }
    if (el.getAttribute("aria-hidden") === "true") { return; }
    var title = el.querySelector(":scope > title");
    var named = el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || (title && title.textContent.trim());
    if (!named || el.getAttribute("role") !== "img") { defects.push("svg without role=img and a text alternative " + describe(el)); }
  });

  // Horizontal overflow.
  var width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    defects.push("horizontal overflow: content " + document.documentElement.scrollWidth + " px wide in a " + width + " px viewport");
  }

  // Scrollable regions (a table too wide for a phone): reachable with the
  // keyboard (tabindex) and named, so a keyboard user can scroll them.
  document.querySelectorAll("body *").forEach(function (el) {
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || !visible(el)) { return; }
    var ox = getComputedStyle(el).overflowX;
    if ((ox !== "auto" && ox !== "scroll") || el.scrollWidth <= el.clientWidth + 1) { return; }
    var named = el.getAttribute("aria-label") ||
      (el.getAttribute("aria-labelledby") && document.getElementById(el.getAttribute("aria-labelledby")));
    if (el.tabIndex < 0 || !named) {
      defects.push("scrollable region without tabindex and a name " + describe(el));
    }
  });

  // Text size: nothing visible under opts.minFontPx (SVG text as drawn,
  // after the viewBox's scaling).
  var small = {};
  document.querySelectorAll("body *").forEach(function (el) {
    var hasText = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ""; });
    if (!hasText || !visible(el) || el.closest("title, desc, script, style, option")) { return; }
    var px = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement && el.getScreenCTM) {
      var m = el.getScreenCTM();
      if (m) { px *= Math.sqrt(m.a * m.a + m.b * m.b); }
    }
    if (px < opts.minFontPx) {
      var key = describe(el) + Math.round(px);
      if (!small[key]) {
        small[key] = true;
        defects.push("text of " + px.toFixed(1) + " px in " + describe(el) + ": \"" + el.textContent.trim().slice(0, 40) + "\"");
      }
    }
  });

  // Contrast.
  function parse(c) {
    var m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) { return null; }
    var p = m[1].split(/[ ,\/]+/).filter(function (x) { return x !== ""; }).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function blend(fg, bg) {
    return { r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1 };
  }
  function background(el) {
    var layers = [];
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
      var c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) { break; } }
    }
    var bg = { r: 255, g: 255, b: 255, a: 1 };
    for (var i = layers.length - 1; i >= 0; i--) { bg = blend(layers[i], bg); }
    return bg;
  }
  function lum(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function ratio(a, b) {
    var la = lum(a), lb = lum(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  var seen = {};
  document.querySelectorAll("body *").forEach(function (el) {
    var hasText = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ""; });
    if (!hasText || !visible(el) || el.closest("title, desc, script, style, option, datalist")) { return; }
    var cs = getComputedStyle(el);
    var inSVG = el instanceof SVGElement;
    var fg = parse(inSVG ? cs.fill : cs.color);
    if (!fg) { return; }
    var bg = background(inSVG ? el.closest("svg") : el);
    var r = ratio(blend(fg, bg), bg);
    if (r < opts.minContrast) {
      var key = describe(el) + cs.color + cs.backgroundColor;
      if (!seen[key]) {
        seen[key] = true;
        defects.push("contrast " + r.toFixed(2) + ":1 of " + describe(el) + " (" + (inSVG ? cs.fill : cs.color) + " on rgb(" +
          Math.round(bg.r) + ", " + Math.round(bg.g) + ", " + Math.round(bg.b) + ")): \"" + el.textContent.trim().slice(0, 40) + "\"");
      }
    }
  });
  return defects;
})
