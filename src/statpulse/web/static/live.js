// Status page local times and live updates (the page is complete without it). Messages:
// JSON of statpulse.web.public.view.live_payload. <time datetime="ISO">UTC</time> shows in
// the visitor's zone and the page's language, UTC as title (timeZoneName rules out
// dateStyle/timeStyle).
(() => {
  "use strict";
  const main = document.querySelector("main[data-events]");
  const fields = {
    year: "numeric", month: "short", day: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short",
  };
  const format = (zone) => {
    const opts = zone ? { ...fields, timeZone: zone } : fields;
    try { return new Intl.DateTimeFormat(document.documentElement.lang || undefined, opts); }
    catch (_) { return new Intl.DateTimeFormat(undefined, opts); } // a bad lang tag
  };
  const local = format(), utc = format("UTC");
  const localise = (el) => {
    const d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    const text = local.format(d);
    if (el.textContent !== text) el.textContent = text;
    el.title = utc.format(d);
  };
  const localiseAll = () => document.querySelectorAll("time[datetime]").forEach(localise);
  localiseAll();
  if (!main || !main.dataset.events || !window.EventSource) return;

  const banner = document.getElementById("overall"), updated = document.getElementById("updated");
  const index = (kind, m = new Map()) => {
    main.querySelectorAll(`[data-${kind}-id]`).forEach((el) => m.set(el.getAttribute(`data-${kind}-id`), el));
    return m;
  };
  const components = index("component"), groups = index("group");
  // Only touch what changed, so the polite live region speaks only on real news.
  const setText = (el, text) => { if (el && typeof text === "string" && el.textContent !== text) el.textContent = text; };
  const setStatus = (el, status) => { if (el && typeof status === "string") el.dataset.status = status; };
  const apply = (items, els, sel) => {
    for (const c of Array.isArray(items) ? items : []) {
      const el = els.get(String(c.id));
      if (el) { setStatus(el, c.status); setText(el.querySelector(sel), c.label); }
    }
  };

  const onMessage = (ev) => {
    let p;
    try { p = JSON.parse(ev.data); } catch (_) { return; }
    if (!p || typeof p !== "object") return;
    setStatus(banner, p.overall);
    setText(banner, p.banner);
    apply(p.components, components, ".status");
    apply(p.groups, groups, "summary .status");
    if (updated && typeof p.updated_at === "string") updated.setAttribute("datetime", p.updated_at);
    localiseAll();
  };

  let delay = 5000;
  const connect = () => {
    const es = new EventSource(main.dataset.events);
    es.onopen = () => { delay = 5000; };
    es.onmessage = onMessage;
    // EventSource retries by itself unless the server answered an error (CLOSED):
    // then retry later, backing off up to five minutes.
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 300000);
    };
  };
  connect();
})();
