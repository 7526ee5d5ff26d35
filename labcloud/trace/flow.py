"""The seed's boot flow: its 28 steps, and a recorder that rebuilds its state table.

Services report each step they perform as a StepEvent with the seed's number; instances
report state changes as StateEvents. ``FlowRecorder`` listens to both and, for one instance,
gives the steps in order, a timeline, and the table the seed draws::

    Status  Task                  Power state  Steps
    BUILD   scheduling            NOSTATE      3-12
    BUILD   networking            NOSTATE      22-24
    BUILD   block_device_mapping  NOSTATE      25-27
    BUILD   spawning              NOSTATE      28
    ACTIVE  None                  Running

In a real run nova-compute's steps 13–21 also happen while the task state is still
``scheduling`` (nothing changes the state before networking); the seed's table leaves them
out, the recorder shows them. Steps before the instance exists (3–6) join its first row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from labcloud.trace.bus import Subscription, TraceBus
from labcloud.trace.events import StateEvent, StepEvent

STEPS: dict[int, tuple[str, str]] = {
    1: ("client", "sends the user's credentials to keystone"),
    2: ("keystone", "checks them and returns a token"),
    3: ("client", "asks nova-api to create a server, with the token"),
    4: ("nova-api", "asks keystone to validate the token"),
    5: ("keystone", "confirms the token, with the user's roles"),
    6: ("nova-api", "talks to the nova database"),
    7: ("nova-api", "creates the instance row (BUILD/scheduling)"),
    8: ("nova-api", "asks for the instance to be scheduled (via nova-conductor)"),
    9: ("nova-scheduler", "picks the request from its queue"),
    10: ("nova-scheduler", "filters and weighs the compute hosts"),
    11: ("nova-scheduler", "returns the chosen host"),
    12: ("nova-conductor", "casts build_and_run_instance to compute.<host>"),
    13: ("nova-compute", "picks the request from its queue"),
    14: ("nova-compute", "asks nova-conductor for the instance's details"),
    15: ("nova-conductor", "picks the request from its queue"),
    16: ("nova-conductor", "reads the instance from the nova database"),
    17: ("nova-conductor", "returns the instance's details"),
    18: ("nova-compute", "receives the instance's details"),
    19: ("nova-compute", "asks glance-api for the image, with the token"),
    20: ("glance-api", "asks keystone to validate the token"),
    21: ("nova-compute", "receives the image metadata"),
    22: ("nova-compute", "asks neutron for a port and an IP (BUILD/networking)"),
    23: ("neutron-server", "asks keystone to validate the token"),
    24: ("nova-compute", "receives the network information"),
    25: ("nova-compute", "asks cinder for the volumes (BUILD/block_device_mapping)"),
    26: ("cinder-api", "asks keystone to validate the token"),
    27: ("nova-compute", "receives the block storage information"),
    28: ("nova-compute", "has the hypervisor spawn the instance (BUILD/spawning)"),
}


@dataclass(frozen=True)
class StateRow:
    status: str
    task: str | None
    power: str
    steps: list[int]


class FlowRecorder:
    """Record the steps and states of boots, keyed by instance and request id."""

    def __init__(self, bus: TraceBus) -> None:
        self._lock = threading.Condition()
        self.steps: list[StepEvent] = []
        self.states: list[StateEvent] = []
        self._sub: Subscription = bus.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StepEvent | StateEvent):
            with self._lock:
                if isinstance(event, StepEvent):
                    self.steps.append(event)
                else:
                    self.states.append(event)
                self._lock.notify_all()

    def close(self) -> None:
        self._sub.close()

    def _request_ids(self, instance_uuid: str) -> set[str]:
        return {s.request_id for s in self.steps if s.instance_uuid == instance_uuid} - {""}

    def steps_of(self, instance_uuid: str) -> list[StepEvent]:
        """The instance's steps in the order they happened (with the token steps before)."""
        with self._lock:
            rids = self._request_ids(instance_uuid)
            mine = [
                s
                for s in self.steps
                if s.instance_uuid == instance_uuid or (s.request_id and s.request_id in rids)
            ]
            if mine:
                first = self.steps.index(mine[0])
                auth = [s for s in self.steps[:first] if s.step in (1, 2)][-2:]
                mine = auth + mine
            # a step repeated back to back is one step of the seed (cinder validates the token
            # of each of nova's three attach calls: step 26 once)
            return [s for i, s in enumerate(mine) if i == 0 or mine[i - 1].step != s.step]

    def wait_for_state(self, instance_uuid: str, status: str, timeout: float = 30) -> StateEvent:
        def found() -> StateEvent | None:
            return next(
                (e for e in self.states if e.id == instance_uuid and e.status == status), None
            )

        with self._lock:
            if not self._lock.wait_for(lambda: found() is not None, timeout):
                seen = [e.status for e in self.states if e.id == instance_uuid]
                raise TimeoutError(f"{instance_uuid} never became {status}; saw {seen}")
            event = found()
            assert event is not None
            return event

    def table(self, instance_uuid: str) -> list[StateRow]:
        """The seed's state table for one instance: each state and the steps taken in it."""
        from labcloud.trace.events import StateEvent as _State

        with self._lock:
            events: list[StepEvent | _State] = sorted(
                [e for e in self.steps_of(instance_uuid) if e.step >= 3]
                + [e for e in self.states if e.id == instance_uuid],
                key=lambda e: e.time,
            )
        rows: list[StateRow] = []
        early: list[int] = []  # steps before the instance existed (3-6)
        for event in events:
            if isinstance(event, StateEvent):
                power = "NOSTATE" if event.power_state == 0 else _power_label(event.power_state)
                row = StateRow(event.status, event.task_state, power, [] if rows else early)
                if not rows or (rows[-1].status, rows[-1].task) != (row.status, row.task):
                    rows.append(row)
            elif rows:
                rows[-1].steps.append(event.step)
            else:
                early.append(event.step)
        return rows

    def timeline(self, instance_uuid: str) -> list[tuple[float, int, str, str]]:
        """(seconds since step 1, step, service, what) for each step of one boot."""
        steps = self.steps_of(instance_uuid)
        start = steps[0].time if steps else 0.0
        return [(s.time - start, s.step, s.service, s.what) for s in steps]


def _power_label(code: int) -> str:
    return {1: "Running", 3: "Paused", 4: "Shutdown", 6: "Crashed", 7: "Suspended"}.get(
        code, str(code)
    )


def emit_step(
    bus: TraceBus | None,
    step: int,
    *,
    instance_uuid: str = "",
    request_id: str = "",
    service: str | None = None,
) -> None:
    """Report seed step ``step`` (no-op when nobody listens)."""
    if bus is None or not bus.active:
        return
    who, what = STEPS[step]
    bus.emit(
        StepEvent(
            step=step,
            service=service or who,
            what=what,
            instance_uuid=instance_uuid,
            request_id=request_id,
        )
    )
