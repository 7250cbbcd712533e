/* StatPulse status widget (see web/public/widget.py): Shadow DOM, textContent only. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) return;
  var page = (me.getAttribute("data-page") || me.src.replace(/\/widget\.js([?#].*)?$/, ""))
    .replace(/\/+$/, "");
  if (!/^https?:\/\//.test(page) || /\/static$/.test(page)) return;
  var CSS =
    ":host{all:initial;display:inline-block}" +
    "a{display:inline-flex;align-items:center;gap:.5em;padding:.35em .8em;" +
    "border:1px solid #d0d7de;border-radius:1em;background:#fff;color:#1f2328;" +
    "font:14px/1.4 system-ui,sans-serif;text-decoration:none}" +
    "a:hover .t{text-decoration:underline}a:focus-visible{outline:2px solid #0969da}" +
    ".d{flex:none;width:.65em;height:.65em;border-radius:50%;background:#818b98}" +
    "[data-i=none] .d{background:#1a7f37}[data-i=minor] .d{background:#bf8700}" +
    "[data-i=major] .d{background:#d1570b}[data-i=critical] .d{background:#cf222e}" +
    "[data-i=maintenance] .d{background:#0969da}.n{font-weight:600}" +
    ".x{color:#59636e}.x:empty{display:none}" +
    "@media (prefers-color-scheme:dark){a{background:#161b22;color:#e6edf3;" +
    "border-color:#3d444d}.x{color:#9198a1}}" +
    "@media (prefers-reduced-motion:no-preference){[data-i=major] .d," +
    "[data-i=critical] .d{animation:p 2s infinite}}@keyframes p{50%{opacity:.3}}";

  function el(tag, cls, parent) {
    var e = document.createElement(tag);
    e.className = cls;
    parent.appendChild(e);
    return e;
  }
  function set(e, text) {
    if (e.textContent !== text) e.textContent = text; // else re-announced
  }

  var host = document.createElement("span");
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets) {
    var sheet = new CSSStyleSheet(); // allowed by a strict CSP
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else el("style", "", root).textContent = CSS;
  var box = el("span", "", root);
  box.setAttribute("role", "status");
  var link = el("a", "", box);
  link.href = page;
  link.target = "_blank";
  link.rel = "noopener";
  el("span", "d", link).setAttribute("aria-hidden", "true");
  var name = el("span", "n", link);
  var text = el("span", "t", link);
  var extra = el("span", "x", link);
  set(text, "Status page");

  function draw(doc) {
    var st = doc.status || {};
    var i = st.indicator || "unknown";
    var bad = (doc.components || []).filter(function (c) {
      return c.status !== "operational";
    });
    if (i === "none" && bad.length) i = "maintenance"; // only maintenance leaves "none"
    link.setAttribute("data-i", i);
    set(name, doc.page ? doc.page.name + ":" : "");
    set(text, st.description || "Status unknown");
    var inc = (doc.incidents || [])[0];
    var list = bad.slice(0, 2).map(function (c) {
      var s = c.status.replace(/_/g, " ");
      return c.name + ": " + s.charAt(0).toUpperCase() + s.slice(1);
    });
    if (bad.length > 2) list.push("+" + (bad.length - 2));
    set(extra, inc ? "· " + inc.name : list.length ? "· " + list.join(", ") : "");
  }

  function load() {
    fetch(page + "/api/v2/summary.json", { credentials: "omit", cache: "no-cache" })
      .then(function (r) {
        if (!r.ok) throw r.status;
        return r.json();
      })
      .then(draw)
      .catch(function () {
        if (!link.hasAttribute("data-i")) set(text, "Status unavailable");
      });
  }
  setInterval(function () {
    if (!document.hidden) load();
  }, 60000);

  function mount() {
    var target = null;
    try {
      target = document.querySelector(me.getAttribute("data-target"));
    } catch (e) {} // a bad selector
    if (target) target.appendChild(host);
    else if (me.parentNode && me.parentNode !== document.head)
      me.parentNode.insertBefore(host, me.nextSibling);
    else document.body.appendChild(host);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
  load();
})();
