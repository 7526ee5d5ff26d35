// TopologyView: the cloud's datapath as the kernel has it (SVG laid out by graphviz in
// Python, replaced only when the topology changes): a box per namespace, its links, and
// the veths, bridge ports, VXLAN/VLAN carriers and dnsmasq that join them. Link states and
// lease counts are written into the nodes by id. A toolbar zooms (fit, −, +, 100%).
function button(label, title, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

export default {
  render({ model, el }) {
    el.classList.add("lc-topology");
    const status = document.createElement("div");
    status.className = "lc-status";
    const bar = document.createElement("div");
    bar.className = "lc-bar";
    const box = document.createElement("div");
    box.className = "lc-topology-graph";
    let zoom = 0; // 0: fit the output area's width; otherwise a scale of the natural size
    const natural = () => {
      const svg = box.querySelector("svg");
      return svg ? parseFloat(svg.getAttribute("width")) * 4 / 3 : 0; // graphviz writes pt
    };
    const scale = document.createElement("span");
    scale.className = "lc-scale";
    const applyZoom = () => {
      const svg = box.querySelector("svg");
      if (!svg) return;
      svg.style.height = "auto";
      if (zoom === 0) { svg.style.width = ""; svg.style.maxWidth = "100%"; }
      else { svg.style.maxWidth = "none"; svg.style.width = `${natural() * zoom}px`; }
      scale.textContent = zoom === 0 ? "fit" : `${Math.round(zoom * 100)}%`;
    };
    const current = () => zoom || Math.min(1, box.clientWidth / (natural() || 1));
    const legend = document.createElement("span");
    legend.className = "lc-legend";
    legend.textContent = "solid: port of a bridge · dashed blue: the two ends of a veth · dotted: carried over";
    bar.append(
      button("fit", "fit the graph to the output area", () => { zoom = 0; applyZoom(); }),
      button("−", "zoom out", () => { zoom = Math.max(0.2, current() / 1.25); applyZoom(); }),
      button("+", "zoom in (scroll to pan)", () => { zoom = Math.min(3, current() * 1.25); applyZoom(); }),
      button("100%", "natural size (scroll to pan)", () => { zoom = 1; applyZoom(); }),
      scale, legend,
    );
    el.append(status, bar, box);
    const paint = () => {
      const error = model.get("error");
      status.textContent = error || model.get("summary");
      status.classList.toggle("lc-error", Boolean(error));
      for (const [id, state] of Object.entries(model.get("states"))) {
        const node = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        if (node) node.classList.toggle("down", state === "DOWN");
      }
      for (const [id, text] of Object.entries(model.get("labels"))) {
        const node = box.querySelector(`g[id="${CSS.escape(id)}"]`);
        const texts = node ? node.querySelectorAll("text") : [];
        if (texts.length) texts[texts.length - 1].textContent = text;
      }
    };
    const draw = () => { box.innerHTML = model.get("svg"); applyZoom(); paint(); };
    model.on("change:svg", draw);
    model.on("change:states", paint);
    model.on("change:labels", paint);
    model.on("change:summary", paint);
    model.on("change:error", paint);
    draw();
  },
};
