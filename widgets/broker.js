// BrokerView: the graphviz layout (SVG from Python, replaced only when the topology changes),
// depths and rates written into the queue nodes by id, a pulse on each edge a message took.
function setQueueText(svgRoot, id, text) {
  const node = svgRoot.querySelector(`g[id="${CSS.escape(id)}"]`);
  if (!node) return;
  const texts = node.querySelectorAll("text");
  if (texts.length) texts[texts.length - 1].textContent = text;
}

export default {
  render({ model, el }) {
    el.classList.add("lc-broker");
    const status = document.createElement("div");
    status.className = "lc-status";
    const box = document.createElement("div");
    box.className = "lc-broker-graph";
    el.append(status, box);
    const drawGraph = () => { box.innerHTML = model.get("svg"); paintCounts(); };
    const paintCounts = () => {
      const depths = model.get("depths"), rates = model.get("rates"), consumers = model.get("consumers");
      for (const [id, n] of Object.entries(depths)) {
        setQueueText(box, id, `${n} ready · ${consumers[id] ?? 0} consumers · ${(rates[id] ?? 0).toFixed(1)}/s`);
        const node = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        if (node) node.classList.toggle("backlog", n > 0);
      }
      status.textContent = `${model.get("source")} broker · ${Object.keys(depths).length} queues`;
    };
    const pulse = () => {
      for (const id of model.get("pulses")) {
        const edge = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        if (!edge) continue;
        edge.classList.remove("pulse");
        void edge.getBoundingClientRect(); // restart the animation
        edge.classList.add("pulse");
      }
    };
    model.on("change:svg", drawGraph);
    model.on("change:depths", paintCounts);
    model.on("change:rates", paintCounts);
    model.on("change:pulses", pulse);
    drawGraph();
  },
};
