"""FlowView: the seed's 28 steps as a sequence diagram, with the state table filling in."""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from labcloud.notebook.publisher import css, esm
from labcloud.trace.events import PauseEvent, StateEvent, StepEvent
from labcloud.trace.flow import STEPS

LANES = [
    "client",
    "keystone",
    "nova-api",
    "nova-scheduler",
    "nova-conductor",
    "nova-compute",
    "glance-api",
    "neutron-server",
    "cinder-api",
    "hypervisor",
]
# where each step's arrow goes (it starts at the step's service); None: work within a lane
TARGETS: dict[int, str | None] = {
    1: "keystone", 2: "client", 3: "nova-api", 4: "keystone", 5: "nova-api", 6: None,
    7: None, 8: "nova-conductor", 9: None, 10: None, 11: "nova-conductor",
    12: "nova-compute", 13: None, 14: "nova-conductor", 15: None, 16: None,
    17: "nova-compute", 18: None, 19: "glance-api", 20: "keystone", 21: None,
    22: "neutron-server", 23: "keystone", 24: None, 25: "cinder-api", 26: "keystone",
    27: None, 28: "hypervisor",
}  # fmt: skip


def step_rows() -> list[dict[str, Any]]:
    return [
        {"n": n, "who": who, "to": TARGETS[n], "what": what} for n, (who, what) in STEPS.items()
    ]


class FlowView(anywidget.AnyWidget):
    """Follows one boot: the latest instance created, or the one given with ``follow()``."""

    _esm = esm("flow")
    _css = css("flow")
    lanes = traitlets.List(LANES).tag(sync=True)
    steps = traitlets.List(step_rows()).tag(sync=True)
    instance = traitlets.Unicode("").tag(sync=True)
    request_id = traitlets.Unicode("").tag(sync=True)
    done = traitlets.List[int]([]).tag(sync=True)  # step numbers, in the order they happened
    current = traitlets.Int(0).tag(sync=True)
    rows = traitlets.List[dict[str, Any]]([]).tag(
        sync=True
    )  # the state table: status, task, power, steps
    paused = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pinned = False
        self._early: list[int] = []  # steps 1-6 come before the instance exists

    def follow(self, instance_uuid: str) -> None:
        self._pinned = True
        self.instance = instance_uuid

    def take(self, events: list[Any]) -> None:
        done, rows = list(self.done), [dict(r) for r in self.rows]
        current, paused = self.current, self.paused
        for e in events:
            if isinstance(e, StepEvent):
                if not e.instance_uuid and e.step <= 6:  # before the instance exists
                    if e.step in (1, 3) and self._early[-1:] != [e.step - 1]:
                        self._early = [] if e.step == 1 else [1, 2]
                    self._early.append(e.step)
                    current = e.step
                    continue
                ours = e.instance_uuid == self.instance or (
                    not e.instance_uuid and e.request_id and e.request_id == self.request_id
                )
                if not ours:  # steps 20, 23, 26 know the request, not the instance
                    continue
                if not done or done[-1] != e.step:
                    done.append(e.step)
                current = e.step
                if rows:
                    rows[-1]["steps"] = [*rows[-1]["steps"], e.step]
            elif isinstance(e, StateEvent) and e.resource == "instance":
                if e.id != self.instance:
                    if self._pinned or e.vm_state != "building":
                        continue
                    self.instance, self.request_id = e.id, e.request_id
                    done, rows = list(self._early), []
                rows.append(
                    {
                        "status": e.status,
                        "task": e.task_state,
                        "power": _power(e.power_state),
                        # as the seed's table: login (1-2) comes before the first row
                        "steps": [] if rows else [n for n in self._early if n >= 3],
                    }
                )
            elif isinstance(e, PauseEvent):
                paused = f"paused at {e.breakpoint}: {e.what}" if e.event == "paused" else ""
        self.done, self.rows, self.current, self.paused = done, rows, current, paused


def _power(code: int) -> str:
    names = {0: "NOSTATE", 1: "Running", 3: "Paused", 4: "Shutdown", 6: "Crashed", 7: "Suspended"}
    return names.get(code, str(code))
