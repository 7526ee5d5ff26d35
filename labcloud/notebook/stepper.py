"""StepperControls: breakpoints, Continue / Step / Run to, and what the paused thread holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from labcloud.notebook.publisher import IDLE_CHECK, css, esm
from labcloud.trace.events import PauseEvent, StepperEvent
from labcloud.trace.stepper import parse_breakpoint as _parse
from labcloud.trace.stepper import pause_dict

# a labcloud.trace.stepper.Stepper, or a RemoteStepper for services in other processes
Stepper = Any


class StepperControls(anywidget.AnyWidget):
    _esm = esm("stepper")
    _css = css("stepper")
    breakpoints = traitlets.List[str]([]).tag(sync=True)
    paused = traitlets.List[dict[str, Any]]([]).tag(
        sync=True
    )  # [{id, breakpoint, what, service, detail}]
    command = traitlets.Dict({}).tag(sync=True)  # set by the view: {op, value, seq}
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, stepper: Stepper, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stepper = stepper
        self._told = False  # the stepper tells of its breakpoints' changes (on_change)
        self.observe(self._on_command, names="command")
        self._sync()

    def _on_command(self, change: dict[str, Any]) -> None:
        cmd = change["new"] or {}
        try:
            self.run(str(cmd.get("op", "")), cmd.get("value"))
            self.error = ""
        except (ValueError, TypeError) as exc:
            self.error = str(exc)

    def run(self, op: str, value: Any = None) -> None:
        """What the buttons do: continue, step, run_to, break, remove, clear."""
        s = self.stepper
        if op == "continue":
            s.resume()
        elif op == "step":
            s.step()
        elif op == "run_to":
            s.run_to(step=int(value))
        elif op == "break":
            s.break_on(**_parse(str(value)))
        elif op == "remove":
            for bp in s.breakpoints:
                if str(bp) == value:
                    s.remove(bp)
        elif op == "clear":
            s.clear()
        else:
            raise ValueError(f"unknown stepper command {op!r}")
        self._sync()

    def due(self) -> bool:
        """Breakpoints set or cleared from elsewhere (the notebook, the CLI) since the last
        sync; pauses come as events."""
        return len(self.breakpoints) != len(self.stepper.breakpoints)

    def due_in(self) -> float | None:
        """0 when due(); else None if the stepper says when its breakpoints change, or
        the publisher's IDLE_CHECK to look again (a RemoteStepper)."""
        if self.due():
            return 0.0
        return None if self._told else IDLE_CHECK

    def wake_with(self, wake: Callable[[], None]) -> None:
        """Breakpoints set from a cell or the CLI wake the publisher (``wake``)."""
        on_change = getattr(self.stepper, "on_change", None)
        if on_change is not None:
            on_change(wake)
            self._told = True

    def take(self, events: list[Any]) -> None:
        if any(isinstance(e, PauseEvent | StepperEvent) for e in events) or len(
            self.breakpoints
        ) != len(self.stepper.breakpoints):
            self._sync()

    def _sync(self) -> None:
        self.breakpoints = [str(b) for b in self.stepper.breakpoints]
        self.paused = [pause_dict(p) for p in self.stepper.paused]
