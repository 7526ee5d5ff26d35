// MessageInspector: the last messages, newest first, under column headers; a filter box
// (method, exchange, routing key, service, kind) over all of them; 50 rows a page, with
// newer / older buttons; click a row to pin it.
const PAGE = 50;

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

export default {
  render({ model, el: root }) {
    root.classList.add("lc-inspector");
    let page = 0;
    const bar = el("div", undefined, "lc-bar");
    const filter = el("input");
    filter.type = "search";
    filter.placeholder = "filter: method, exchange, routing key, service, kind";
    filter.title = filter.placeholder;
    filter.value = model.get("filter");
    filter.addEventListener("input", () => { page = 0; model.set("filter", filter.value); model.save_changes(); });
    const newer = el("button", "‹ newer", "lc-newer"), older = el("button", "older ›", "lc-older");
    const count = el("span", "", "lc-count");
    newer.addEventListener("click", () => { page = Math.max(0, page - 1); paint(); });
    older.addEventListener("click", () => { page += 1; paint(); });
    bar.append(filter, newer, older, count);
    const list = el("table");
    const pinned = el("pre", undefined, "lc-pinned");
    root.append(bar, list, pinned);
    const paint = () => {
      const f = model.get("filter").toLowerCase();
      const all = model.get("messages");
      const shown = all.filter((m) => !f ||
        `${m.kind} ${m.method} ${m.exchange || "(default)"} ${m.routing_key} ${m.service}`.toLowerCase().includes(f));
      const pages = Math.max(1, Math.ceil(shown.length / PAGE));
      page = Math.min(page, pages - 1);
      const start = page * PAGE, rows = shown.slice(start, start + PAGE);
      newer.disabled = page === 0;
      older.disabled = page >= pages - 1;
      count.textContent = shown.length
        ? `${start + 1}–${start + rows.length} of ${shown.length}${f ? ` matching (${all.length} kept)` : ""}`
        : (all.length ? `none of ${all.length} match` : "no message yet");
      list.replaceChildren();
      const head = el("tr");
      for (const h of ["Kind", "Method", "Exchange → routing key", "Service", "Size"]) head.append(el("th", h));
      list.append(head);
      for (const m of rows) {
        const tr = el("tr");
        for (const v of [m.kind, m.method || "(reply)", `${m.exchange || "(default)"} → ${m.routing_key}`, m.service, `${m.size} B`]) {
          tr.append(el("td", v));
        }
        tr.addEventListener("click", () => { model.set("pinned", m); model.save_changes(); });
        list.append(tr);
      }
      const p = model.get("pinned");
      pinned.textContent = p && p.id ? JSON.stringify(p, null, 2) : "click a message to pin it";
    };
    for (const name of ["messages", "filter", "pinned"]) model.on(`change:${name}`, paint);
    paint();
  },
};
