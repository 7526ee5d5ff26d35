// MessageInspector: the last messages, newest first; a filter box; click a row to pin it.
export default {
  render({ model, el }) {
    el.classList.add("lc-inspector");
    const filter = document.createElement("input");
    filter.placeholder = "filter: method, exchange, routing key, service";
    filter.value = model.get("filter");
    filter.addEventListener("input", () => { model.set("filter", filter.value); model.save_changes(); });
    const list = document.createElement("table");
    const pinned = document.createElement("pre");
    pinned.className = "lc-pinned";
    el.append(filter, list, pinned);
    const paint = () => {
      const f = model.get("filter").toLowerCase();
      list.replaceChildren();
      for (const m of model.get("messages")) {
        const text = `${m.method} ${m.exchange} ${m.routing_key} ${m.service}`.toLowerCase();
        if (f && !text.includes(f)) continue;
        const tr = document.createElement("tr");
        for (const v of [m.kind, m.method || "(reply)", `${m.exchange || "(default)"} → ${m.routing_key}`, m.service, `${m.size} B`]) {
          const td = document.createElement("td");
          td.textContent = v;
          tr.append(td);
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
