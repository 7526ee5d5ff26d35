// FlowView: the seed's 28 steps as a sequence diagram across the services, each arrow with
// its step's words (on hover the full sentence, and where the step last happened: "nova-compute
// on compute2 (python:4242)"), the boot's furthest step highlighted, and the state table of
// the followed instance, one group of rows per attempt (a reschedule is attempt 2). A token
// validation answered from the service's own cache (keystone was not asked) is drawn dashed,
// "from cache". Under step 28, once the guest printed its boot line, that line and when it
// appeared: labcloud's console watch read it, not nova (no arrow, no number). Below it,
// un-numbered and dashed, what neutron told nova-compute about the instance's ports
// ("neutron → nova: network-vif-plugged"), which the seed's article predates.
// The drawing scales to the output area.
const SVG = "http://www.w3.org/2000/svg";
const LANE_W = 92, ROW_H = 20, TOP = 34;

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawDiagram(model, box) {
  const lanes = model.get("lanes"), steps = model.get("steps");
  const x = (name) => 50 + lanes.indexOf(name) * LANE_W;
  const width = 60 + lanes.length * LANE_W, height = TOP + (steps.length + 2) * ROW_H + 10;
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`, width, class: "lc-flow-svg", role: "img",
    "aria-label": "the seed's 28 boot steps across the services",
  });
  lanes.forEach((name) => {
    svg.append(svgEl("text", { x: x(name), y: 14, "text-anchor": "middle", class: "lane" }, name));
    svg.append(svgEl("line", { x1: x(name), y1: 20, x2: x(name), y2: height, class: "lifeline" }));
  });
  steps.forEach((s, i) => {
    const y = TOP + i * ROW_H + 6;
    const g = svgEl("g", { id: `step-${s.n}`, class: "step" });
    const from = x(s.who), to = s.to ? x(s.to) : from + 18;
    const title = svgEl("title", {}, `${s.n}. ${s.who} ${s.what}`);
    title.dataset.what = title.textContent;
    g.append(title);
    g.append(svgEl("rect", { x: 0, y: y - ROW_H + 5, width, height: ROW_H, class: "hover" }));
    g.append(svgEl("text", { x: 4, y: y + 4, class: "num" }, String(s.n)));
    let lx, anchor;
    if (s.to) {
      g.append(svgEl("line", { x1: from, y1: y, x2: to, y2: y, class: "arrow" }));
      const dir = to > from ? -1 : 1;
      g.append(svgEl("path", { d: `M${to},${y} l${dir * 6},-4 l0,8 z`, class: "head" }));
      lx = (from + to) / 2; anchor = "middle";
    } else {
      g.append(svgEl("path", { d: `M${from},${y - 5} h18 v10 h-18`, class: "self" }));
      lx = from + 22; anchor = "start";
    }
    const label = svgEl("text", { x: lx, y: s.to ? y - 3 : y + 3, "text-anchor": anchor, class: "label" }, s.label);
    label.dataset.label = s.label;
    g.append(label);
    svg.append(g);
  });
  // the guest's console line, under the last step, at the hypervisor's lifeline
  const y = TOP + steps.length * ROW_H + 6;
  const line = svgEl("g", { id: "console", class: "console" });
  line.append(svgEl("title", {}, "labcloud's console watch read this on the guest's serial console after spawn (not a nova step)"));
  line.append(svgEl("text", { x: x("hypervisor") + 4, y: y + 4, "text-anchor": "end", class: "label" }, ""));
  svg.append(line);
  // neutron → nova-compute: the external events of the instance's ports, not a seed step
  const ey = y + ROW_H, from = x("neutron-server"), to = x("nova-compute");
  const ext = svgEl("g", { id: "external", class: "external none" });
  ext.append(svgEl("title", {}, "neutron-server posted this to nova-api's /os-server-external-events; nova-compute took it (not one of the seed's steps)"));
  ext.append(svgEl("line", { x1: from, y1: ey, x2: to, y2: ey, class: "arrow" }));
  ext.append(svgEl("path", { d: `M${to},${ey} l6,-4 l0,8 z`, class: "head" }));
  ext.append(svgEl("text", { x: (from + to) / 2, y: ey - 3, "text-anchor": "middle", class: "label" }, ""));
  svg.append(ext);
  box.replaceChildren(svg);
}

function cell(tag, text, className) {
  const c = document.createElement(tag);
  c.textContent = text;
  if (className) c.className = className;
  return c;
}

function paint(model, box, table, status) {
  const done = new Set(model.get("done")), current = model.get("current");
  const cached = new Set(model.get("cached")), places = model.get("places");
  box.querySelectorAll("g.step").forEach((g) => {
    const n = Number(g.id.slice(5));
    const title = g.querySelector("title"), place = places[String(n)];
    title.textContent = place ? `${title.dataset.what} · ${place}` : title.dataset.what;
    g.classList.toggle("done", done.has(n));
    g.classList.toggle("current", n === current);
    g.classList.toggle("cached", cached.has(n));
    const label = g.querySelector("text.label");
    label.textContent = cached.has(n) ? `${label.dataset.label} (from cache)` : label.dataset.label;
  });
  const seen = model.get("console"), text = box.querySelector("g.console text");
  text.textContent = !seen.time ? "" :
    `guest console: ${seen.seen ? seen.line : `no boot line in time (last: ${seen.line || "none"})`}` +
    ` · ${seen.after_spawn.toFixed(1)} s after step 28, ${new Date(seen.time * 1000).toLocaleTimeString()}`;
  box.querySelector("g.console").classList.toggle("missing", Boolean(seen.time) && !seen.seen);
  const external = model.get("external"), ext = box.querySelector("g.external");
  ext.querySelector("text").textContent = external.length ? `neutron → nova: ${external.join(", ")}` : "";
  ext.classList.toggle("none", !external.length);
  const rows = model.get("rows"), attempt = model.get("attempt");
  const volumes = rows.some((r) => r.detail);
  table.replaceChildren();
  const head = document.createElement("tr");
  const heads = [...(attempt > 1 ? ["Attempt"] : []), "Status", "Task", "Power state", "Steps", ...(volumes ? ["Volumes"] : [])];
  for (const h of heads) head.append(cell("th", h));
  table.append(head);
  let last = 0;
  for (const r of rows) {
    const tr = document.createElement("tr");
    if (attempt > 1) {
      const first = r.attempt !== last;
      tr.classList.toggle("attempt-start", first && r.attempt > 1);
      tr.append(cell("td", first ? (r.attempt > 1 ? `${r.attempt} (rescheduled)` : "1") : ""));
      last = r.attempt;
    }
    for (const v of [r.status, r.task ?? "None", r.power, r.steps.join(", ")]) tr.append(cell("td", v));
    if (volumes) tr.append(cell("td", r.detail));
    table.append(tr);
  }
  const inst = model.get("instance");
  const where = current ? ` · step ${current}: ${model.get("steps")[current - 1].label}` : "";
  status.textContent = (inst ? `instance ${inst.slice(0, 8)}` : "waiting for a boot") +
    (attempt > 1 ? ` · attempt ${attempt}` : "") + where +
    (rows.length ? ` · ${rows[rows.length - 1].status}` : "") +
    (model.get("paused") ? ` · ${model.get("paused")}` : "");
  status.classList.toggle("paused", Boolean(model.get("paused")));
}

export default {
  render({ model, el }) {
    el.classList.add("lc-flow");
    const status = document.createElement("div");
    status.className = "lc-status";
    const box = document.createElement("div");
    box.className = "lc-flow-diagram";
    const table = document.createElement("table");
    table.className = "lc-table";
    el.append(status, box, table);
    drawDiagram(model, box);
    const update = () => paint(model, box, table, status);
    for (const name of ["done", "cached", "places", "current", "rows", "paused", "instance", "attempt", "console", "external"]) model.on(`change:${name}`, update);
    update();
  },
};
