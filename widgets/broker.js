// BrokerView: the graphviz layout (SVG from Python, replaced only when the topology changes):
// exchanges, queues and the services that publish and consume, with the seed's roles on
// their edges. Depths and rates are written into the queue nodes by id; each message lights
// up the edges it took, with its method's name. A toolbar zooms (fit to the output area,
// −, +, 100%; scroll to pan) and hides the fanout queues.
const SVGNS = "http://www.w3.org/2000/svg";

function setQueueText(svgRoot, id, text) {
  const node = svgRoot.querySelector(`g[id="${CSS.escape(id)}"]`);
  if (!node) return;
  const texts = node.querySelectorAll("text");
  if (texts.length) texts[texts.length - 1].textContent = text;
}

function button(label, title, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

export default {
  render({ model, el }) {
    el.classList.add("lc-broker");
    const status = document.createElement("div");
    status.className = "lc-status";
    const bar = document.createElement("div");
    bar.className = "lc-bar";
    const box = document.createElement("div");
    box.className = "lc-broker-graph";
    let zoom = 0; // 0: fit the output area's width; otherwise a scale of the natural size
    const natural = () => {
      const svg = box.querySelector("svg");
      return svg ? parseFloat(svg.getAttribute("width")) * 4 / 3 : 0; // graphviz writes pt
    };
    const applyZoom = () => {
      const svg = box.querySelector("svg");
      if (!svg) return;
      svg.style.height = "auto";
      if (zoom === 0) { svg.style.width = ""; svg.style.maxWidth = "100%"; box.classList.add("fit"); }
      else { svg.style.maxWidth = "none"; svg.style.width = `${natural() * zoom}px`; box.classList.remove("fit"); }
      scale.textContent = zoom === 0 ? "fit" : `${Math.round(zoom * 100)}%`;
    };
    const current = () => zoom || Math.min(1, box.clientWidth / (natural() || 1));
    const scale = document.createElement("span");
    scale.className = "lc-scale";
    const fanout = document.createElement("label");
    const check = document.createElement("input");
    check.type = "checkbox";
    check.checked = model.get("hide_fanout");
    check.addEventListener("change", () => { model.set("hide_fanout", check.checked); model.save_changes(); });
    fanout.append(check, " hide fanout queues");
    const legend = document.createElement("span");
    legend.className = "lc-legend";
    legend.textContent = "green: services and their roles (Invoker, Worker; Topic/Direct Publisher and Consumer)";
    bar.append(
      button("fit", "fit the graph to the output area", () => { zoom = 0; applyZoom(); }),
      button("−", "zoom out", () => { zoom = Math.max(0.2, current() / 1.25); applyZoom(); }),
      button("+", "zoom in (scroll to pan)", () => { zoom = Math.min(3, current() * 1.25); applyZoom(); }),
      button("100%", "natural size (scroll to pan)", () => { zoom = 1; applyZoom(); }),
      scale, fanout, legend,
    );
    el.append(status, bar, box);
    const drawGraph = () => { box.innerHTML = model.get("svg"); applyZoom(); paintCounts(); };
    const paintCounts = () => {
      const depths = model.get("depths"), rates = model.get("rates"), consumers = model.get("consumers");
      for (const [id, n] of Object.entries(depths)) {
        setQueueText(box, id, `${n} ready · ${consumers[id] ?? 0} consumers · ${(rates[id] ?? 0).toFixed(1)}/s`);
        const node = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        if (node) node.classList.toggle("backlog", n > 0);
      }
      const services = box.querySelectorAll('g.node[id^="s:"]').length;
      status.textContent = `${model.get("source")} broker · ${Object.keys(depths).length} queues · ${services} services seen`;
    };
    const pulse = () => {
      for (const { id, method } of model.get("pulses")) {
        const edge = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        if (!edge) continue;
        edge.classList.remove("pulse");
        void edge.getBoundingClientRect(); // restart the animation
        edge.classList.add("pulse");
        const path = edge.querySelector("path");
        if (!path || !method) continue;
        edge.querySelectorAll("text.lc-method").forEach((t) => t.remove());
        const mid = path.getPointAtLength(path.getTotalLength() / 2);
        const t = document.createElementNS(SVGNS, "text");
        t.setAttribute("x", mid.x);
        t.setAttribute("y", mid.y - 4);
        t.setAttribute("text-anchor", "middle");
        t.setAttribute("class", "lc-method");
        t.textContent = method;
        edge.append(t);
        setTimeout(() => t.remove(), 1500);
      }
    };
    model.on("change:svg", drawGraph);
    model.on("change:depths", paintCounts);
    model.on("change:rates", paintCounts);
    model.on("change:pulses", pulse);
    model.on("change:hide_fanout", () => { check.checked = model.get("hide_fanout"); });
    drawGraph();
  },
};
