// deskbase console: keyboard shortcuts, queue selection, SLA countdowns, command palette, copy buttons. No dependencies.
(() => {
  "use strict";
  const body = document.body;
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const section = body.dataset.section || "";
  const shortcutsOn = () => body.dataset.shortcuts !== "off";
  const typing = (el) =>
    !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const LIST_KEY = "deskbase.queue";

  // ---- the queue: j/k selection, o/Enter open; its order is remembered for j/k on a ticket -------------
  const rows = () => $$("tr.row[data-href]");
  let selected = -1;
  function select(i) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((r, n) => {
      r.classList.toggle("selected", n === selected);
      if (n === selected) r.setAttribute("aria-selected", "true");
      else r.removeAttribute("aria-selected");
    });
    const row = all[selected];
    row.scrollIntoView({ block: "nearest" });
    const link = row.querySelector("a");
    if (link) link.focus({ preventScroll: true });
  }
  function rememberQueue() {
    if (section !== "queue") return;
    try {
      sessionStorage.setItem(LIST_KEY, JSON.stringify({ href: location.pathname + location.search, items: rows().map((r) => r.dataset.href) }));
    } catch (e) { /* storage may be off: j/k on a ticket page just does nothing */ }
  }
  function queueList() {
    try { return JSON.parse(sessionStorage.getItem(LIST_KEY) || "null"); } catch (e) { return null; }
  }
  function neighbour(step) {
    const list = queueList();
    if (!list || !Array.isArray(list.items)) return null;
    const i = list.items.indexOf(location.pathname);
    if (i < 0) return null;
    return list.items[i + step] || null;
  }
  function queueHref() {
    const list = queueList();
    return (list && list.href) || body.dataset.queue || "/";
  }
  function backToQueue() {
    location.href = queueHref();
  }
  document.addEventListener("click", (e) => {
    const row = e.target.closest && e.target.closest("tr.row[data-href]");
    if (!row || e.target.closest("a, button, input, select, textarea, label")) return;
    location.href = row.dataset.href;
  });

  // ---- SLA countdowns: the server sends seconds left; we tick them from page load (no client clock) ------
  const started = performance.now();
  const announced = new Set();
  function fmt(seconds) {
    const sign = seconds < 0 ? "\u2212" : "";
    let s = Math.floor(Math.abs(seconds));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); const sec = s - m * 60;
    let body = d ? (h ? `${d}d ${h}h` : `${d}d`) : h ? (m ? `${h}h ${m}m` : `${h}h`) : m ? `${m}m` : `${sec}s`;
    return sign + body;
  }
  function tick() {
    const elapsed = (performance.now() - started) / 1000;
    $$("[role=timer][data-seconds]").forEach((el) => {
      if (el.dataset.base === undefined) { el.dataset.base = el.dataset.seconds; el.dataset.t0 = String(elapsed); }
      const left = Number(el.dataset.base) - (elapsed - Number(el.dataset.t0));
      const text = el.querySelector(".chip-text");
      if (text) text.textContent = fmt(left);
      if (left < 0 && !el.classList.contains("chip-breached")) {
        el.classList.remove("chip-running", "chip-soon");
        el.classList.add("chip-breached");
        const icon = el.querySelector(".chip-icon");
        if (icon) icon.textContent = "\u2715";
        const label = el.dataset.label || "SLA";
        el.setAttribute("aria-label", `${label}: breached`);
        const key = `${location.pathname}|${label}`;
        if (!announced.has(key)) {   // a breach is announced once, never every tick
          announced.add(key);
          const live = $("#announcer");
          if (live) live.textContent = `SLA breached: ${label}`;
        }
      }
    });
  }
  setInterval(tick, 1000);

  // ---- dialogs: shortcuts overlay and command palette ----------------------------------------------------
  function openDialog(id) {
    const d = document.getElementById(id);
    if (d && !d.open && typeof d.showModal === "function") d.showModal();
    return d;
  }
  document.addEventListener("click", (e) => {
    const opener = e.target.closest && e.target.closest("[data-open-dialog]");
    if (opener) { e.preventDefault(); openDialog(opener.dataset.openDialog); }
  });
  let paletteIndex = 0;
  function paletteItems() {
    const q = ($("#palette-input") || {}).value || "";
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return $$("#palette-commands li").filter((li) => words.every((w) => li.textContent.toLowerCase().includes(w)));
  }
  function drawPalette() {
    const list = $("#palette-list");
    if (!list) return;
    const items = paletteItems();
    paletteIndex = Math.max(0, Math.min(paletteIndex, items.length - 1));
    list.replaceChildren(...items.map((li, i) => {
      const item = document.createElement("li");
      item.textContent = li.textContent;
      item.setAttribute("role", "option");
      item.id = `palette-opt-${i}`;
      item.setAttribute("aria-selected", String(i === paletteIndex));
      item.addEventListener("click", () => runCommand(li));
      return item;
    }));
    const input = $("#palette-input");
    if (input) input.setAttribute("aria-activedescendant", items.length ? `palette-opt-${paletteIndex}` : "");
  }
  function runCommand(li) {
    const d = $("#palette");
    if (d && d.open) d.close();
    if (li.dataset.href) { location.href = li.dataset.href; return; }
    action(li.dataset.action);
  }
  function openPalette() {
    const d = openDialog("palette");
    const input = $("#palette-input");
    if (!d || !input) return;
    input.value = "";
    paletteIndex = 0;
    drawPalette();
    input.focus();
  }
  const paletteInput = $("#palette-input");
  if (paletteInput) {
    paletteInput.addEventListener("input", () => { paletteIndex = 0; drawPalette(); });
    paletteInput.addEventListener("keydown", (e) => {
      const items = paletteItems();
      if (e.key === "ArrowDown") { e.preventDefault(); paletteIndex = (paletteIndex + 1) % Math.max(items.length, 1); drawPalette(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); paletteIndex = (paletteIndex - 1 + items.length) % Math.max(items.length, 1); drawPalette(); }
      else if (e.key === "Enter") { e.preventDefault(); if (items[paletteIndex]) runCommand(items[paletteIndex]); }
    });
  }

  // ---- ticket actions ----------------------------------------------------------------------------------
  function focusComposer(kind) {
    const radio = document.getElementById(kind === "note" ? "type-note" : "type-reply");
    if (radio) radio.checked = true;
    const box = $("#composer-body");
    if (box) { box.focus(); box.scrollIntoView({ block: "center" }); }
  }
  function focusField(id) {
    const el = document.getElementById(id);
    if (el) { el.focus(); el.scrollIntoView({ block: "center" }); }
  }
  function action(name) {
    if (name === "reply") focusComposer("reply");
    else if (name === "note") focusComposer("note");
    else if (name === "assign") focusField("f-assignee");
    else if (name === "status") focusField("f-status");
    else if (name === "shortcuts") openDialog("shortcuts");
  }
  // "Send and next": tell the server where to go once the message is stored: the next ticket of the queue,
  // or the queue itself when none is left (the server adds the held message's Undo to either page).
  document.addEventListener("click", (e) => {
    const btn = e.target.closest && e.target.closest("[data-send-next]");
    if (!btn) return;
    const next = btn.form && btn.form.querySelector("[data-next]");
    if (next) next.value = neighbour(1) || queueHref();
  });

  // ---- keys ---------------------------------------------------------------------------------------------
  let pendingG = 0;
  const go = { i: () => backToQueue(), d: "dashboard", b: "collections" };
  document.addEventListener("keydown", (e) => {
    const target = e.target;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
      e.preventDefault(); openPalette(); return;
    }
    // "/shortcut" then Tab at the start of the composer applies that macro (the select posts it)
    if (e.key === "Tab" && !e.shiftKey && target && target.id === "composer-body") {
      const m = /^\/([a-z0-9][a-z0-9-]*)$/.exec(target.value.trim());
      const pick = document.getElementById("macro");
      const option = m && pick ? pick.querySelector(`option[data-shortcut="${m[1]}"]`) : null;
      if (option) {
        e.preventDefault();
        target.value = "";
        pick.value = option.value;
        pick.dispatchEvent(new Event("change", { bubbles: true }));
        return;
      }
    }
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && target && target.id === "composer-body") {
      e.preventDefault();
      const form = target.form;
      if (form) form.requestSubmit(document.getElementById("send") || undefined);
      return;
    }
    if (e.key === "Escape") {
      if ($("dialog[open]")) return;               // the dialog closes itself
      if (typing(target)) { target.blur(); return; }
      if (section === "ticket") { e.preventDefault(); backToQueue(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(target) || $("dialog[open]") || !shortcutsOn()) return;
    const key = e.key;
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      const dest = go[key];
      if (typeof dest === "function") { e.preventDefault(); dest(); }
      else if (dest && body.dataset.workspace) { e.preventDefault(); location.href = `${body.dataset.workspace}/${dest}`; }
      return;
    }
    pendingG = 0;
    const onList = rows().length > 0 && section !== "ticket";
    switch (key) {
      case "g": pendingG = Date.now(); break;
      case "j":
      case "k": {
        e.preventDefault();
        const step = key === "j" ? 1 : -1;
        if (onList) select(selected < 0 ? 0 : selected + step);
        else if (section === "ticket") { const n = neighbour(step); if (n) location.href = n; }
        break;
      }
      case "o":
      case "Enter": {
        if (!onList) return;
        const row = rows()[selected];
        if (row) { e.preventDefault(); location.href = row.dataset.href; }
        break;
      }
      case "x": {
        const row = onList ? rows()[selected] : null;
        const box = row && row.querySelector("input[name=ids]");
        if (box) { e.preventDefault(); box.checked = !box.checked; countTicked(); }
        break;
      }
      case "r": if (section === "ticket") { e.preventDefault(); action("reply"); } break;
      case "n": if (section === "ticket") { e.preventDefault(); action("note"); } break;
      case "a": if (section === "ticket") { e.preventDefault(); action("assign"); } break;
      case "s": if (section === "ticket") { e.preventDefault(); action("status"); } break;
      case "c": if (body.dataset.workspace) { e.preventDefault(); location.href = `${body.dataset.workspace}/tickets/new`; } break;
      case "/": {
        const box = $("#search-q") || $("#queue-search") || $("#global-search");
        if (box) { e.preventDefault(); box.focus(); box.select(); }
        break;
      }
      case "?": e.preventDefault(); openDialog("shortcuts"); break;
      default: break;
    }
  });

  // ---- search results: ↑/↓ from the box or a result move between results; Enter opens (a link's own) ----
  document.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const t = e.target;
    const hits = $$("a[data-hit]");
    if (!hits.length || !t || !(t.id === "search-q" || t.hasAttribute("data-hit"))) return;
    e.preventDefault();
    const at = hits.indexOf(t);
    if (at < 0) { if (e.key === "ArrowDown") hits[0].focus(); return; }
    const next = at + (e.key === "ArrowDown" ? 1 : -1);
    if (next < 0) { const q = $("#search-q"); if (q) q.focus(); return; }
    hits[Math.min(next, hits.length - 1)].focus();
  });

  // ---- bulk: tick rows (x, or the boxes), then change them together in the bulk bar ---------------------
  // With scripts the bar stays folded (one line) until something is ticked or "all matching" is chosen.
  function countTicked() {
    const bulkForm = document.getElementById("bulk");
    const out = document.getElementById("bulk-count");
    if (!out || !bulkForm) return;
    const n = $$("input[name=ids]:checked").length;
    const all = document.getElementById("bulk-all");
    out.textContent = n ? `${n} ticked` : "Tick tickets (x) to change them together";
    const shown = !!document.getElementById("bulk-error") || !!document.getElementById("bulk-confirm");
    bulkForm.classList.toggle("open", n > 0 || (all && all.checked) || shown);
  }
  function foldBulk() {
    const bulkForm = document.getElementById("bulk");
    if (bulkForm) { bulkForm.classList.add("folds"); countTicked(); }
  }
  foldBulk();

  // ---- queue filters apply as they change: the list below them is redrawn in place (focus stays in the
  // filter) and the address follows with history.replaceState. Without scripts the Apply button submits.
  const filters = $("form[data-live-filters]");
  if (filters) {
    filters.classList.add("live");
    let asked = 0;
    let typingTimer = 0;
    const apply = async () => {
      const params = new URLSearchParams();
      new FormData(filters).forEach((v, k) => { if (typeof v === "string" && v.trim()) params.append(k, v.trim()); });
      const href = `${filters.getAttribute("action")}?${params}`;
      const mine = ++asked;
      let res;
      try { res = await fetch(href, { credentials: "same-origin" }); } catch (e) { location.href = href; return; }
      if (mine !== asked) return;                      // a later change is on its way: it wins
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.getElementById("queue-results");
      const here = document.getElementById("queue-results");
      if (!res.ok || !fresh || !here) { location.href = href; return; }
      here.replaceWith(fresh);
      const nav = doc.querySelector("nav.views");
      const oldNav = $("nav.views");
      if (nav && oldNav) oldNav.replaceWith(nav);
      if (window.htmx && typeof window.htmx.process === "function") {
        window.htmx.process(fresh);
        if (nav && oldNav) window.htmx.process(nav);
      }
      history.replaceState(null, "", href);
      selected = -1;
      rememberQueue(); tick(); foldBulk(); armToast();
      const count = $("#queue-count");
      const live = $("#announcer");
      if (live && count) live.textContent = count.textContent.trim() || "Filters applied";
    };
    filters.addEventListener("change", (e) => {
      if (!e.target || e.target.tagName !== "SELECT") return;   // typed text is applied on input
      clearTimeout(typingTimer);
      apply();
    });
    filters.addEventListener("input", (e) => {
      if (!e.target || e.target.tagName !== "INPUT") return;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(apply, 400);
    });
    filters.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(typingTimer); apply(); });
  }
  document.addEventListener("change", (e) => {
    const t = e.target;
    if (t && t.id === "pick-page") $$("input[name=ids]").forEach((b) => { b.checked = t.checked; });
    if (t && (t.id === "pick-page" || t.name === "ids" || t.id === "bulk-all")) countTicked();
  });
  document.addEventListener("click", (e) => {
    if (!e.target.closest || !e.target.closest("[data-bulk-all]")) return;
    const all = document.getElementById("bulk-all");
    if (all) { all.checked = true; countTicked(); const s = document.getElementById("bulk-status"); if (s) s.focus(); }
  });

  // ---- presence: this page's heartbeat says "viewing", or "replying" while the composer holds text ------
  const presence = document.getElementById("presence");
  function syncPresence() {
    if (!presence) return;
    const state = document.getElementById("presence-state");
    const box = document.getElementById("composer-body");
    const now = box && box.value.trim() ? "replying" : "viewing";
    if (state && state.value !== now) {
      state.value = now;
      presence.dispatchEvent(new Event("presence-change"));
    }
  }
  let draftTimer = 0;
  if (presence) {
    document.addEventListener("input", (e) => {
      if (!e.target || e.target.id !== "composer-body") return;
      syncPresence();
      // the heartbeat carries the composer's text: two seconds after typing stops, the draft is saved
      clearTimeout(draftTimer);
      draftTimer = setTimeout(() => presence.dispatchEvent(new Event("draft-change")), 2000);
    });
    window.addEventListener("pagehide", () => {
      if (navigator.sendBeacon) navigator.sendBeacon(presence.dataset.leave, new FormData(presence));
    });
  }

  // ---- copy buttons (a secret shown once): copy the named element's text, say so in the polite region ------
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const say = (text) => { const a = $("#announcer"); if (a) a.textContent = text; };
    const done = () => { button.textContent = "Copied"; say("Copied to the clipboard"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(done, () => say("Copy failed: select the text and copy it"));
    } else {  // plain http off localhost: select the text so Ctrl+C copies it
      const range = document.createRange();
      range.selectNodeContents(source);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      say("Selected: press Ctrl+C to copy");
    }
  });

  // ---- email: a formatted view's frame takes its content's height; "load remote images" says it did --------
  function fitFrame(frame) {
    try {
      const doc = frame.contentDocument;
      // the content's own height (scrollHeight is never less than the frame's, so it could not shrink)
      if (doc && doc.documentElement && doc.body) {
        frame.style.height = `${Math.min(Math.ceil(doc.documentElement.getBoundingClientRect().height) + 2, 2400)}px`;
      }
    } catch (e) { /* unreadable: it keeps its CSS height and scrolls */ }
  }
  document.addEventListener("load", (e) => {
    const t = e.target;
    if (t && t.classList && t.classList.contains("mail-frame")) fitFrame(t);
  }, true);
  document.addEventListener("toggle", (e) => {
    const d = e.target;
    if (d && d.open && d.classList && d.classList.contains("formatted")) $$(".mail-frame", d).forEach(fitFrame);
  }, true);
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("[data-remote-images]");
    if (!link) return;
    const note = link.parentElement && link.parentElement.querySelector("[data-remote-note]");
    if (note) note.textContent = "Remote images are shown in this email.";
    const live = $("#announcer");
    if (live) live.textContent = "Loading the remote images of this email";
    setTimeout(() => link.remove(), 0);   // after the click has loaded them into the frame
  });

  // ---- dashboard: a new period redraws the panels that depend on it (SLA attainment and the lead panels) in
  // place, each from its own request; the address follows. Without scripts the Show button reloads the page.
  const periodBar = $("form.period-bar[data-base]");
  if (periodBar) {
    const redrawPeriod = async () => {
      const period = ($("#period") || {}).value || "30d";
      const base = periodBar.dataset.base;
      const clock = new URLSearchParams(location.search).get("clock");
      const q = (extra) => new URLSearchParams({ period, ...extra }).toString();
      const targets = [["attainment", `${base}/attainment?${q({})}`]].concat($$("section.lead-panel[id^=panel-]").map((el) => {
        const id = el.id.slice("panel-".length);
        return [el.id, `${base}/panels/${id}?${q(id === "first_response" && clock ? { clock } : {})}`];
      }));
      history.replaceState(null, "", `${base}?${q(clock ? { clock } : {})}`);
      await Promise.all(targets.map(async ([id, href]) => {
        const el = document.getElementById(id);
        if (!el) return;
        el.setAttribute("aria-busy", "true");
        let res;
        try { res = await fetch(href, { credentials: "same-origin", headers: { "HX-Request": "true" } }); } catch (e) { res = null; }
        if (!res || !res.ok) { el.removeAttribute("aria-busy"); return; }
        const holder = document.createElement("template");
        holder.innerHTML = (await res.text()).trim();
        const fresh = holder.content.firstElementChild;
        if (!fresh || !document.getElementById(id)) return;
        document.getElementById(id).replaceWith(fresh);
        if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(fresh);
      }));
      const live = $("#announcer");
      const label = $("#period option:checked");
      if (live && label) live.textContent = `Panels show ${label.textContent.trim().toLowerCase()}`;
    };
    periodBar.addEventListener("change", (e) => { if (e.target && e.target.id === "period") redrawPeriod(); });
    periodBar.addEventListener("submit", (e) => { e.preventDefault(); redrawPeriod(); });
  }

  // ---- time zone: the server draws times in the viewer's zone. A person has one in their profile; a token's
  // session (and an invitation's first choice) takes the browser's, which this cookie reports.
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone)) {
      if (!document.cookie.split("; ").includes(`deskbase_tz=${zone}`)) {
        document.cookie = `deskbase_tz=${zone}; path=/; max-age=31536000; SameSite=Strict${location.protocol === "https:" ? "; Secure" : ""}`;
      }
      const pick = $("select[data-browser-zone]");
      if (pick && pick.querySelector(`option[value="${zone}"]`)) pick.value = zone;
    }
  } catch (e) { /* no Intl zone: the workspace's zone stays */ }

  // ---- undo toast: shown for its seconds, longer while it has focus or the pointer; `z` presses its Undo ------
  function armToast() {
    const form = $("#toast form.toast");
    if (!form || form.dataset.armed) return;
    form.dataset.armed = "1";
    const hide = () => {
      if (form.contains(document.activeElement) || form.matches(":hover")) { setTimeout(hide, 1000); return; }
      form.hidden = true;
    };
    const seconds = Number(form.dataset.toastSeconds) || 10;
    setTimeout(hide, seconds * 1000);
    // once sent it has done its work (a page answer replaces it; an htmx answer swaps the panels)
    form.addEventListener("submit", () => { form.dataset.undone = "1"; setTimeout(() => { form.hidden = true; }, 0); });
    // a held reply: once its time is up (and the server's loop has sent it), redraw the conversation
    if (form.dataset.refresh) setTimeout(() => { if (!form.dataset.undone) redraw(form.dataset.refresh); }, seconds * 1000 + 2500);
  }
  async function redraw(href) {
    let res;
    try { res = await fetch(href, { credentials: "same-origin" }); } catch (e) { return; }
    if (!res.ok || location.pathname !== new URL(href, location.href).pathname) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    ["conversation", "meta", "sla-panel", "timeline"].forEach((id) => {
      const fresh = doc.getElementById(id);
      const here = document.getElementById(id);
      if (!fresh || !here) return;
      here.replaceWith(fresh);
      if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(fresh);
    });
    tick();
  }
  document.addEventListener("click", (e) => {
    const close = e.target.closest && e.target.closest("[data-toast-close]");
    if (close && close.form) close.form.hidden = true;
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "z" || e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || $("dialog[open]") || !shortcutsOn()) return;
    const form = $("#toast form.toast");
    if (!form || form.hidden) return;
    e.preventDefault();
    form.requestSubmit(form.querySelector("[data-undo]") || undefined);
  });

  // htmx "show more" appends rows: keep the remembered order current.
  document.addEventListener("htmx:after:swap", () => { rememberQueue(); tick(); syncPresence(); armToast(); });
  rememberQueue();
  tick();
  armToast();
})();
