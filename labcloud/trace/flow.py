"""The seed's boot flow: its 28 steps, the one call that reports a step, and the fold that
rebuilds the seed's state table from what a boot did.

A service reports a step with :func:`flow_step` at its call site, *before* doing the work,
with the request id of the request it serves: a breakpoint on the step (the stepper holds
the emitting thread) stops before the work. A token found in a service's own cache is the
step marked ``cached`` (keystone was not asked). ``FlowRecorder`` listens; for one instance
it gives the steps in order, a timeline, and the table the seed draws::

    Status  Task                  Power state  Steps
    BUILD   scheduling            NOSTATE      3-12
    BUILD   networking            NOSTATE      22-24
    BUILD   block_device_mapping  NOSTATE      25-27
    BUILD   spawning              NOSTATE      28
    ACTIVE  None                  Running

In a real run nova-compute's steps 13–21 also happen while the task state is still
``scheduling`` (nothing changes the state before networking); the seed's table leaves them
out, the recorder shows them. Steps before the instance exists (3–6) join its first row.
A step belongs to a boot by its instance uuid, or by the request id of one of its steps
(the login and nova-api's POST /servers carry the client's request id), never by timing.

After step 28, on a hypervisor whose guests print a boot line (libvirt's tiny image),
labcloud's console watch reports that line (a ConsoleEvent): not a nova step, and drawn as
labcloud's own observation, ``guest console: labcloud-guest: ready``, under step 28.
Between step 28 and ACTIVE, nova-compute waits for neutron's ``network-vif-plugged`` of each
port an agent plugs: an ExternalEvent, un-numbered (the seed's article predates it), drawn as
``neutron → nova: network-vif-plugged``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labcloud.context import RequestContext
from labcloud.trace.bus import Subscription, TraceBus
from labcloud.trace.events import ConsoleEvent, ExternalEvent, StateEvent, StepEvent

Boot = StepEvent | StateEvent | ConsoleEvent | ExternalEvent  # what a boot is folded from

VALIDATES = "asks keystone to validate the token"
FROM_CACHE = "finds the token in its own cache: keystone is not asked"

STEPS: dict[int, tuple[str, str]] = {
    1: ("client", "sends the user's credentials to keystone"),
    2: ("keystone", "checks them and returns a token"),
    3: ("client", "asks nova-api to create a server, with the token"),
    4: ("nova-api", VALIDATES),
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
    20: ("glance-api", VALIDATES),
    21: ("nova-compute", "receives the image metadata"),
    22: ("nova-compute", "asks neutron for a port and an IP (BUILD/networking)"),
    23: ("neutron-server", VALIDATES),
    24: ("nova-compute", "receives the network information"),
    25: ("nova-compute", "asks cinder for the volumes (BUILD/block_device_mapping)"),
    26: ("cinder-api", VALIDATES),
    27: ("nova-compute", "receives the block storage information"),
    28: ("nova-compute", "has the hypervisor spawn the instance (BUILD/spawning)"),
}

# nova's power states as the dashboard and the seed's table write them
POWER_LABELS: dict[int, str] = {
    0: "NOSTATE",
    1: "Running",
    3: "Paused",
    4: "Shutdown",
    6: "Crashed",
    7: "Suspended",
}


def power_label(code: int) -> str:
    """``power_label(1) == "Running"``; an unknown code is written as its number."""
    return POWER_LABELS.get(code, str(code))


def validation_step(service: str) -> int | None:
    """The seed's step for ``service`` validating a token (nova-api 4, glance-api 20 ...)."""
    return next(
        (n for n, (who, what) in STEPS.items() if who == service and what == VALIDATES), None
    )


def flow_step(
    bus: TraceBus | None,
    n: int,
    request: RequestContext | str,
    *,
    instance_uuid: str = "",
    cached: bool = False,
    service: str | None = None,
    host: str | None = None,
) -> None:
    """Report seed step ``n``, before its work, for ``request`` (a context or a request id).

    A no-op when nobody listens. With a stepper breakpoint on ``n``, returns only once the
    step is resumed: the work after this call has not started while it is paused.
    The event says where it happened: ``process`` and, unless ``host`` is
    given, ``host`` come from the bus's origin (``step_origin``).
    """
    if bus is None or not bus.wants(StepEvent):
        return
    who, what = STEPS[n]
    service = service or who
    here, process = step_origin(bus, service, host)
    bus.emit(
        StepEvent(
            step=n,
            service=service,
            what=FROM_CACHE if cached else what,
            instance_uuid=instance_uuid,
            request_id=request if isinstance(request, str) else request.request_id,
            cached=cached,
            host=here,
            process=process,
        )
    )


def step_origin(bus: TraceBus, who: str, host: str | None = None) -> tuple[str, str]:
    """(host, process) of a step by ``who`` emitted on ``bus``.

    ``process`` is the OS process that emitted it: the bus's origin (``python:<pid>``).
    ``host`` is the host of the service doing the step: ``host`` when the caller gives it
    (nova-compute names its own ``[DEFAULT] host``: compute1, the host the instance lands
    on), otherwise the origin's: a binary's ``[DEFAULT] host`` in its own process, and in
    the in-kernel cloud this machine's name, where its controller services really run. A
    client's step (1, 3), reported by the service it reached, names no host: the client's
    machine is not known. Both are empty on a bus without an origin.
    """
    origin = bus.origin
    if origin is None:
        return host or "", ""
    if host is None:
        host = "" if who == "client" else origin.host
    return host, origin.process


def step_place(step: StepEvent) -> str:
    """Where a step happened, in words: ``nova-compute on compute2 (python:4242)``; what the
    step does not name (a client's host, a process) is left out."""
    place = f"{step.service} on {step.host}" if step.host else step.service
    return f"{place} ({step.process})" if step.process else place


@dataclass(frozen=True)
class StateRow:
    status: str
    task: str | None
    power: str
    steps: list[int] = field(default_factory=list)


def boot_events(events: Iterable[Any], instance_uuid: str) -> list[Boot]:
    """One boot's steps, its instance's states and its guest's console line, in order.

    A step is the boot's when it names the instance, or names no instance and carries a
    request id one of the instance's steps carries (the login, POST /servers, the token
    validations); another instance's step is never the boot's, even with the same request.
    """
    events = [e for e in events if isinstance(e, Boot)]
    rids = {
        e.request_id
        for e in events
        if isinstance(e, StepEvent) and e.instance_uuid == instance_uuid
    } - {""}
    return [
        e
        for e in events
        if (isinstance(e, StateEvent) and e.resource == "instance" and e.id == instance_uuid)
        or (isinstance(e, ConsoleEvent | ExternalEvent) and e.instance_uuid == instance_uuid)
        or (
            isinstance(e, StepEvent)
            and (
                e.instance_uuid == instance_uuid
                or (not e.instance_uuid and e.request_id and e.request_id in rids)
            )
        )
    ]


def state_table(events: Iterable[Boot]) -> list[StateRow]:
    """The seed's state table from one boot's events (``boot_events``): a row per change of
    status or task state, with the steps taken in it; login (1–2) comes before the table."""
    rows: list[StateRow] = []
    early: list[int] = []  # steps before the instance existed (3-7)
    for event in events:
        if isinstance(event, StateEvent):
            if not rows or (rows[-1].status, rows[-1].task) != (event.status, event.task_state):
                steps = [] if rows else early
                rows.append(
                    StateRow(event.status, event.task_state, power_label(event.power_state), steps)
                )
        elif not isinstance(event, StepEvent) or event.step < 3:
            continue
        elif rows:
            rows[-1].steps.append(event.step)
        else:
            early.append(event.step)
    return rows


@dataclass(frozen=True)
class ConsoleLine:
    """The guest's console line as a flow shows it under step 28: ``seen`` False when the
    watch gave up (``line`` is then the console's last line); ``after_spawn``: seconds
    from step 28 to the read that found it."""

    line: str
    seen: bool
    time: float
    after_spawn: float

    def __str__(self) -> str:
        what = self.line if self.seen else f"no boot line in time (last: {self.line or 'none'})"
        return f"guest console: {what} (+{self.after_spawn:.1f} s after step 28)"


def guest_console(events: Iterable[Boot]) -> ConsoleLine | None:
    """The line labcloud's console watch reported after the latest spawn of one boot's
    events (``boot_events``), or None (no watch reported: the fake hypervisor, or not yet)."""
    spawned: float | None = None
    found: ConsoleLine | None = None
    for e in events:
        if isinstance(e, StepEvent) and e.step == 28:
            spawned, found = e.time, None  # a spawn again (a reschedule): its own line
        elif isinstance(e, ConsoleEvent) and spawned is not None:
            found = ConsoleLine(e.line, e.seen, e.time, round(e.time - spawned, 3))
    return found


class FlowRecorder:
    """Record the steps and states of boots, keyed by instance and request id."""

    def __init__(self, bus: TraceBus) -> None:
        self._lock = threading.Condition()
        self.events: list[Boot] = []  # in the order they happened
        self._sub: Subscription = bus.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Boot):
            with self._lock:
                self.events.append(event)
                self._lock.notify_all()

    def close(self) -> None:
        self._sub.close()

    @property
    def steps(self) -> list[StepEvent]:
        with self._lock:
            return [e for e in self.events if isinstance(e, StepEvent)]

    @property
    def states(self) -> list[StateEvent]:
        with self._lock:
            return [e for e in self.events if isinstance(e, StateEvent)]

    def steps_of(self, instance_uuid: str) -> list[StepEvent]:
        """The boot's steps in the order they happened, each as it happened: a repeated step
        is listed each time, a validation answered from a cache has ``cached=True``."""
        with self._lock:
            mine = boot_events(self.events, instance_uuid)
        return [e for e in mine if isinstance(e, StepEvent)]

    def table(self, instance_uuid: str) -> list[StateRow]:
        """The seed's state table for one instance: each state and the steps taken in it."""
        with self._lock:
            return state_table(boot_events(self.events, instance_uuid))

    def console(self, instance_uuid: str) -> ConsoleLine | None:
        """The guest's console line after step 28, as the flow view draws it (None: none)."""
        with self._lock:
            return guest_console(boot_events(self.events, instance_uuid))

    def wait_for_console(self, instance_uuid: str, timeout: float = 30) -> ConsoleLine:
        """Wait for labcloud's console watch to report the guest's line (or give up)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._console(instance_uuid), timeout):
                raise TimeoutError(f"no console line of {instance_uuid} within {timeout} s")
        line = self.console(instance_uuid)
        assert line is not None
        return line

    def _console(self, instance_uuid: str) -> bool:
        return guest_console(boot_events(self.events, instance_uuid)) is not None

    def wait_for_state(self, instance_uuid: str, status: str, timeout: float = 30) -> StateEvent:
        def found() -> StateEvent | None:
            return next(
                (
                    e
                    for e in self.events
                    if isinstance(e, StateEvent) and e.id == instance_uuid and e.status == status
                ),
                None,
            )

        with self._lock:
            if not self._lock.wait_for(lambda: found() is not None, timeout):
                seen = [
                    e.status
                    for e in self.events
                    if isinstance(e, StateEvent) and e.id == instance_uuid
                ]
                hint = "" if seen else " (this recorder saw no state of it: made after the boot?"
                hint += " cloud.wait_for() looks at the current state first)" if hint else ""
                raise TimeoutError(f"{instance_uuid} never became {status}; saw {seen}{hint}")
            event = found()
            assert event is not None
            return event

    def external_events(self, instance_uuid: str) -> list[str]:
        """What other services told nova-compute about the instance, in order, as the flow
        draws it: ``neutron → nova: network-vif-plugged (port 1a2b3c4d, received)``."""
        with self._lock:
            mine = boot_events(self.events, instance_uuid)
        return [
            f"neutron → nova: {e.name} (port {e.tag[:8]}, {e.event})"
            for e in mine
            if isinstance(e, ExternalEvent)
        ]

    def timeline(self, instance_uuid: str) -> list[tuple[float, int, str, str]]:
        """(seconds since the boot's first step, step, service, what) for each step."""
        steps = self.steps_of(instance_uuid)
        start = steps[0].time if steps else 0.0
        return [(s.time - start, s.step, s.service, s.what) for s in steps]
