// FlowView: the seed's 28 steps as a sequence diagram across the services, the current step
// highlighted, and the state table of the followed instance.
const SVG = "http://www.w3.org/2000/svg";
const LANE_W = 92, ROW_H = 17, TOP = 34;

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawDiagram(model, box) {
  const lanes = model.get("lanes"), steps = model.get("steps");
  const x = (name) => 50 + lanes.indexOf(name) * LANE_W;
  const height = TOP + steps.length * ROW_H + 10;
  const svg = svgEl("svg", { width: 60 + lanes.length * LANE_W, height, class: "lc-flow-svg" });
  lanes.forEach((name) => {
    svg.append(svgEl("text", { x: x(name), y: 14, "text-anchor": "middle", class: "lane" }, name));
    svg.append(svgEl("line", { x1: x(name), y1: 20, x2: x(name), y2: height, class: "lifeline" }));
  });
  steps.forEach((s, i) => {
    const y = TOP + i * ROW_H;
    const g = svgEl("g", { id: `step-${s.n}`, class: "step" });
    const from = x(s.who), to = s.to ? x(s.to) : from + 28;
    g.append(svgEl("title", {}, `${s.n}. ${s.who} ${s.what}`));
    g.append(svgEl("text", { x: 4, y: y + 4, class: "num" }, String(s.n)));
    if (s.to) {
      g.append(svgEl("line", { x1: from, y1: y, x2: to, y2: y, class: "arrow" }));
      const dir = to > from ? -1 : 1;
      g.append(svgEl("path", { d: `M${to},${y} l${dir * 6},-4 l0,8 z`, class: "head" }));
    } else {
      g.append(svgEl("path", { d: `M${from},${y - 5} h18 v10 h-18`, class: "self" }));
    }
    svg.append(g);
  });
  box.replaceChildren(svg);
}

function paint(model, box, table, status) {
  const done = new Set(model.get("done")), current = model.get("current");
  box.querySelectorAll("g.step").forEach((g) => {
    const n = Number(g.id.slice(5));
    g.classList.toggle("done", done.has(n));
    g.classList.toggle("current", n === current);
  });
  const rows = model.get("rows");
  table.replaceChildren();
  const head = document.createElement("tr");
  for (const h of ["Status", "Task", "Power state", "Steps"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  table.append(head);
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const v of [r.status, r.task ?? "None", r.power, r.steps.join(", ")]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    table.append(tr);
  }
  const inst = model.get("instance");
  status.textContent = (inst ? `instance ${inst.slice(0, 8)} · step ${current}` : "waiting for a boot") +
    (model.get("paused") ? ` · ${model.get("paused")}` : "");
  status.classList.toggle("paused", Boolean(model.get("paused")));
}

export default {
  render({ model, el }) {
    el.classList.add("lc-flow");
    const status = document.createElement("div");
    status.className = "lc-status";
    const box = document.createElement("div");
    const table = document.createElement("table");
    table.className = "lc-table";
    el.append(status, box, table);
    drawDiagram(model, box);
    const update = () => paint(model, box, table, status);
    for (const name of ["done", "current", "rows", "paused", "instance"]) model.on(`change:${name}`, update);
    update();
  },
};
