// deskbase console: @mentions in the composer. Typing "@" and a few letters in an internal note lists the
// workspace's people (arrow keys, Enter or Tab to pick, Esc to close); picking inserts "@Name ". The form
// sends the mentioned people as user ids (hidden "mentions"), worked out from the text on every change, so
// deleting "@Name" un-mentions them and a reply (not a note) mentions nobody.
(() => {
  "use strict";
  let people = [];
  let matches = [];
  let active = -1;
  const area = () => document.getElementById("composer-body");
  const list = () => document.getElementById("mention-list");
  const isNote = () => { const n = document.getElementById("type-note"); return !!(n && n.checked); };
  function load() {
    const el = area();
    try { people = el && el.dataset.mentionable ? JSON.parse(el.dataset.mentionable) : []; } catch (e) { people = []; }
  }
  function sync() {
    const el = area();
    const hidden = document.getElementById("composer-mentions");
    if (!el || !hidden) return;
    const text = el.value;
    const ids = isNote()
      ? people.filter((p) => new RegExp("(^|\\s)@" + p.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "(?![\\w])").test(text)).map((p) => p.id)
      : [];
    hidden.value = ids.join(",");
  }
  function query() {
    const el = area();
    const before = el.value.slice(0, el.selectionStart);
    const m = /(^|\s)@([^\s@]{0,40})$/.exec(before);
    return m ? m[2] : null;
  }
  function close() {
    const ul = list();
    if (ul) { ul.hidden = true; ul.innerHTML = ""; }
    matches = []; active = -1;
    const el = area();
    if (el) el.removeAttribute("aria-activedescendant");
  }
  function show(q) {
    const ul = list();
    if (!ul) return;
    const needle = q.toLowerCase();
    const starts = (p) => p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(needle)) || p.email.toLowerCase().startsWith(needle);
    matches = people.filter(starts).slice(0, 8);
    if (!matches.length) { close(); return; }
    active = 0;
    ul.innerHTML = "";
    matches.forEach((p, i) => {
      const li = document.createElement("li");
      li.id = `mention-${i}`;
      li.setAttribute("role", "option");
      li.textContent = `${p.name} `;
      const small = document.createElement("span");
      small.className = "muted small";
      small.textContent = p.email;
      li.appendChild(small);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(i); });
      ul.appendChild(li);
    });
    ul.hidden = false;
    highlight();
  }
  function highlight() {
    const ul = list();
    Array.from(ul.children).forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
    area().setAttribute("aria-activedescendant", `mention-${active}`);
  }
  function pick(i) {
    const el = area();
    const p = matches[i];
    if (!p) return;
    const at = el.selectionStart;
    const before = el.value.slice(0, at).replace(/@[^\s@]{0,40}$/, `@${p.name} `);
    el.value = before + el.value.slice(at);
    el.selectionStart = el.selectionEnd = before.length;
    close();
    sync();
    el.focus();
  }
  document.addEventListener("input", (e) => {
    if (e.target !== area()) return;
    if (!people.length) load();
    const q = isNote() ? query() : null;
    if (q === null) close(); else show(q);
    sync();
  });
  document.addEventListener("change", (e) => {
    if (e.target && e.target.name === "type") { close(); sync(); }
  });
  document.addEventListener("keydown", (e) => {
    const ul = list();
    if (e.target !== area() || !ul || ul.hidden || !matches.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + matches.length) % matches.length;
      highlight();
    } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "Tab") {
      e.preventDefault(); e.stopPropagation(); pick(active);
    } else if (e.key === "Escape") {
      e.preventDefault(); e.stopPropagation(); close();
    }
  }, true);
  document.addEventListener("htmx:afterSwap", () => { people = []; load(); });
  load();
})();
