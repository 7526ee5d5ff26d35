"""FlowView: the seed's 28 steps as a sequence diagram, with the state table filling in.

The facts are trace.flow's fold (``boot_events``, ``state_table``); this module only decides
how to draw them: a short label for each arrow (on hover the full text, and where the step
last happened: ``nova-compute on compute2``), the boot's furthest step highlighted, each
reschedule as an attempt of its own with its own rows, and the volumes a boot attaches on
its block_device_mapping row, and under step 28 the line the guest printed on its console
(labcloud's console watch, not a nova step), with its time.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import anywidget
import traitlets

from labcloud.notebook.publisher import css, esm
from labcloud.trace.events import (
    ConsoleEvent,
    ExternalEvent,
    HttpEvent,
    PauseEvent,
    StateEvent,
    StepEvent,
)
from labcloud.trace.flow import (
    STEPS,
    Boot,
    boot_events,
    guest_console,
    state_table,
    step_place,
)

HISTORY = 5000  # step and state events kept to fold the followed boot from

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


# each arrow's words in a screenshot (the full sentence is the arrow's tooltip)
LABELS: dict[int, str] = {
    1: "credentials", 2: "token", 3: "POST /servers + token", 4: "validate token",
    5: "token OK + roles", 6: "nova DB", 7: "instance row", 8: "schedule_and_build",
    9: "take request", 10: "filter + weigh", 11: "host chosen", 12: "build_and_run_instance",
    13: "take request", 14: "instance details?", 15: "take request", 16: "read instance",
    17: "instance details", 18: "details received", 19: "GET image + token",
    20: "validate token", 21: "image metadata", 22: "create port + token",
    23: "validate token", 24: "network info", 25: "GET volumes + token", 26: "validate token",
    27: "volume info", 28: "spawn",
}  # fmt: skip
# a token check, and the step that asks for it: a check counts toward the boot's furthest
# step only after its asker (nova-api's early checks of glance and neutron, a cleanup's
# checks after a failed spawn, never move the highlight)
CHECKS = {2: 1, 4: 3, 5: 4, 20: 19, 23: 22, 26: 25}
VOLUME_URL = re.compile(r"/volumes/([0-9a-f-]{36})")


def step_rows() -> list[dict[str, Any]]:
    return [
        {"n": n, "who": who, "to": TARGETS[n], "what": what, "label": LABELS[n]}
        for n, (who, what) in STEPS.items()
    ]


def attempts(events: list[Boot]) -> list[list[Boot]]:
    """One boot's events cut where nova-compute gave the build back and it was scheduled
    again (BUILD/scheduling after a later task state): one list per attempt."""
    cuts: list[list[Boot]] = [[]]
    later = False  # a task state after scheduling was seen in this attempt
    for e in events:
        if isinstance(e, StateEvent):
            if e.status == "BUILD" and e.task_state == "scheduling" and later:
                cuts.append([])
                later = False
            elif e.task_state not in (None, "scheduling"):
                later = True
        cuts[-1].append(e)
    return cuts


def furthest(events: list[Boot]) -> int:
    """The furthest step of one attempt; a token check counts only once its asker ran."""
    seen: set[int] = set()
    best = 0
    for e in events:
        if isinstance(e, StepEvent):
            asker = CHECKS.get(e.step)
            if asker is None or asker in seen:
                best = max(best, e.step)
            seen.add(e.step)
    return best


def _nothing() -> None:
    return None


class FlowView(anywidget.AnyWidget):
    """Follows one boot: the latest instance created, or the one given with ``follow()``.

    Before nova-api has created the instance, the latest request that posted /servers, or
    that logged in and is held at a breakpoint, is shown (so a breakpoint on steps 1-8 shows
    where it stopped); a login that boots nothing leaves the view on its boot. The steps and
    the state table come from trace.flow's fold, as FlowRecorder's do.
    """

    _esm = esm("flow")
    _css = css("flow")
    lanes = traitlets.List(LANES).tag(sync=True)
    steps = traitlets.List(step_rows()).tag(sync=True)
    instance = traitlets.Unicode("").tag(sync=True)
    request_id = traitlets.Unicode("").tag(sync=True)
    done = traitlets.List[int]([]).tag(sync=True)  # step numbers, in the order they happened
    cached = traitlets.List[int]([]).tag(sync=True)  # steps last answered from a token cache
    # where each step last happened, for its hover text: {"28": "nova-compute on compute2
    # (python:4242)"} (trace.flow.step_place)
    places = traitlets.Dict({}).tag(sync=True)
    current = traitlets.Int(0).tag(sync=True)  # the furthest step of the latest attempt
    attempt = traitlets.Int(0).tag(sync=True)  # 2 and more: the build was rescheduled
    # the state table: attempt, status, task, power, steps, detail (the volumes attached)
    rows = traitlets.List[dict[str, Any]]([]).tag(sync=True)
    paused = traitlets.Unicode("").tag(sync=True)
    # under step 28: the guest's console line as labcloud's console watch read it (line,
    # seen, time, after_spawn: trace.flow.ConsoleLine); empty while there is none
    console = traitlets.Dict({}).tag(sync=True)
    # neutron's events as nova-compute handled them (un-numbered, after step 28):
    # "network-vif-plugged (received)" ... (trace.events.ExternalEvent)
    external = traitlets.List[str]([]).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pinned = False
        self._pending = ""  # a request that has not created its instance yet
        self._events: deque[Boot] = deque(maxlen=HISTORY)
        self._volume_asks: deque[tuple[str, str]] = deque(maxlen=HISTORY)  # (request, volume)
        self._volume_status: dict[str, str] = {}
        self._stale = False  # follow() chose another instance: show it at the next turn
        self._wake: Callable[[], None] = _nothing  # the publisher's, once it has this view

    def follow(self, instance_uuid: str) -> None:
        self._pinned = True
        self._pending = ""
        self.instance = instance_uuid
        self._stale = True
        self._wake()

    def due(self) -> bool:
        """Nothing changes without events, but the instance follow() chose."""
        return self._stale

    def due_in(self) -> float | None:
        return 0.0 if self._stale else None

    def wake_with(self, wake: Callable[[], None]) -> None:
        """``wake()``: a turn soon (the publisher's), called when follow() changes the view."""
        self._wake = wake

    def take(self, events: list[Any]) -> None:
        for e in events:
            if isinstance(e, PauseEvent):
                self.paused = f"paused at {e.breakpoint}: {e.what}" if e.event == "paused" else ""
            elif isinstance(e, StateEvent) and e.resource == "volume":
                self._volume_status[e.id] = e.status
            elif isinstance(e, StepEvent | StateEvent):
                self._events.append(e)
                self._choose(e)
            elif isinstance(e, ConsoleEvent | ExternalEvent):
                self._events.append(e)
            elif isinstance(e, HttpEvent) and (m := VOLUME_URL.search(e.url)):
                self._volume_asks.append((e.request_id, m.group(1)))
        self._show()

    def _choose(self, e: StepEvent | StateEvent) -> None:
        if self._pinned:
            return
        if isinstance(e, StateEvent):
            if e.resource == "instance" and e.vm_state == "building" and e.id != self.instance:
                self.instance, self.request_id, self._pending = e.id, e.request_id, ""
        elif e.step in (1, 3) and not e.instance_uuid and e.request_id != self.request_id:
            self._pending = e.request_id

    def _show(self) -> None:
        self._stale = False
        ours: list[Boot] = []
        if self._pending and not self._building():
            ours = [e for e in self._events if e.request_id == self._pending]
            # a login alone (cloud.login() for a GET) is no boot: it is shown only while
            # held at a breakpoint or once it posted /servers (step 3)
            if not (self.paused or any(isinstance(e, StepEvent) and e.step >= 3 for e in ours)):
                ours = []
        if not ours:
            ours = boot_events(self._events, self.instance)
        steps = [e for e in ours if isinstance(e, StepEvent)]
        latest = {s.step: s.cached for s in steps}  # a step's latest time decides its drawing
        self.done = [s.step for s in steps]
        self.cached = sorted(n for n, cached in latest.items() if cached)
        self.places = {str(s.step): step_place(s) for s in steps}
        tries = attempts(ours)
        self.current = furthest(tries[-1]) or furthest(ours)
        self.attempt = len(tries) if any(isinstance(e, StateEvent) for e in ours) else 0
        volumes = self._volumes({s.request_id for s in steps})
        rows = []
        for n, events in enumerate(tries, start=1):
            for row in state_table(events):
                detail = volumes if row.task == "block_device_mapping" else ""
                rows.append({"attempt": n, **asdict(row), "detail": detail})
        self.rows = rows
        line = guest_console(tries[-1])
        self.console = asdict(line) if line is not None else {}
        self.external = [f"{e.name} ({e.event})" for e in tries[-1] if isinstance(e, ExternalEvent)]

    def _volumes(self, request_ids: set[str]) -> str:
        """The volumes this boot asked cinder for, with their status: ``volume 1a2b3c4d
        (in-use)``; empty when it asked for none."""
        asked = dict.fromkeys(v for rid, v in self._volume_asks if rid and rid in request_ids)
        return ", ".join(f"volume {v[:8]} ({self._volume_status.get(v, '?')})" for v in asked)

    def _building(self) -> bool:
        """Whether the followed instance is still being built (a new boot waits till then)."""
        states = [e for e in self._events if isinstance(e, StateEvent) and e.id == self.instance]
        return bool(states) and states[-1].status == "BUILD"
