// deskbase console: the header's bell. Keeps its unread count live over Server-Sent Events, announces each new
// notification once (polite status region), and on the notifications page offers "N new — refresh" rather
// than inserting rows under the cursor. EventSource reconnects by itself, resuming after the last event id.
(() => {
  "use strict";
  const bell = document.getElementById("bell");
  if (!bell || !window.EventSource) return;
  const count = bell.querySelector(".bell-count");
  const announcer = document.getElementById("announcer");
  const fresh = document.getElementById("notifications-fresh");
  let arrived = 0;
  function setUnread(n) {
    count.textContent = String(n);
    count.dataset.unread = String(n);
    count.hidden = n === 0;
    bell.setAttribute("aria-label", `Notifications, ${n} unread`);
  }
  const source = new EventSource(bell.dataset.stream);
  source.addEventListener("unread", (e) => {
    try { setUnread(JSON.parse(e.data).unread); } catch (err) { /* a malformed event changes nothing */ }
  });
  source.addEventListener("notification", (e) => {
    let n;
    try { n = JSON.parse(e.data); } catch (err) { return; }
    const t = (n.data && n.data.ticket) || {};
    const label = `${n.title}: ${t.number != null ? "#" + t.number + " " : ""}${t.subject || ""}`;
    if (announcer) announcer.textContent = label;
    if (fresh) {
      arrived += 1;
      fresh.querySelector("[data-fresh-count]").textContent = String(arrived);
      fresh.hidden = false;
    }
  });
  window.addEventListener("pagehide", () => source.close());
})();
