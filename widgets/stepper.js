// StepperControls: breakpoints, Continue / Step / Run to / Clear, and what the paused thread holds.
export default {
  render({ model, el }) {
    el.classList.add("lc-stepper");
    let seq = 0;
    const send = (op, value) => { model.set("command", { op, value, seq: ++seq }); model.save_changes(); };
    const bar = document.createElement("div");
    bar.className = "lc-bar";
    const input = document.createElement("input");
    input.placeholder = "a breakpoint: 9, method select_destinations, route POST /v2.0/ports";
    input.title = "a step (9), or method, queue, service or route followed by its name";
    const button = (label, op, value) => {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = `lc-${op}`;
      b.addEventListener("click", () => send(op, value ? value() : null));
      return b;
    };
    bar.append(
      input,
      button("Break", "break", () => input.value),
      button("Run to", "run_to", () => input.value),
      button("Continue", "continue"),
      button("Step", "step"),
      button("Clear", "clear"),
    );
    const bps = document.createElement("div");
    const paused = document.createElement("div");
    const err = document.createElement("div");
    err.className = "lc-error";
    el.append(bar, bps, paused, err);
    const paint = () => {
      bps.replaceChildren();
      for (const b of model.get("breakpoints")) {
        const chip = document.createElement("span");
        chip.className = "lc-chip";
        chip.textContent = `● ${b} ✕`;
        chip.addEventListener("click", () => send("remove", b));
        bps.append(chip);
      }
      paused.replaceChildren();
      for (const p of model.get("paused")) {
        const box = document.createElement("details");
        box.open = true;
        const summary = document.createElement("summary");
        summary.textContent = `paused: ${p.service} (${p.thread}) at ${p.breakpoint}: ${p.what}`;
        const pre = document.createElement("pre");
        pre.textContent = JSON.stringify(p.detail, null, 2);
        box.append(summary, pre);
        paused.append(box);
      }
      if (!model.get("paused").length) paused.textContent = "running";
      err.textContent = model.get("error");
    };
    for (const name of ["breakpoints", "paused", "error"]) model.on(`change:${name}`, paint);
    paint();
  },
};
