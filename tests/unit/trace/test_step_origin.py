"""A seed step says where it happened: the host of the service doing it, and the OS process
that emitted it (the bus's origin, set by the binary or the in-kernel cloud that builds it)."""

from __future__ import annotations

import os

from labcloud.binaries.base import Binary
from labcloud.conf import parse
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import Origin, StepEvent, event_from_dict
from labcloud.trace.flow import flow_step, step_place

PROCESS = f"python:{os.getpid()}"


def test_a_step_takes_its_host_and_process_from_the_bus_origin() -> None:
    bus = TraceBus(Origin(host="controller", service="nova-conductor"))
    steps = bus.collect(types=(StepEvent,))
    flow_step(bus, 16, "req-1", instance_uuid="i1")
    (step,) = steps
    assert (step.service, step.host, step.process) == ("nova-conductor", "controller", PROCESS)
    assert step_place(step) == f"nova-conductor on controller ({PROCESS})"
    assert event_from_dict(step.to_dict()) == step  # so across processes (labcloud.trace)


def test_nova_compute_names_its_own_host_in_a_process_shared_with_others() -> None:
    """In-kernel, every nova-compute shares the cloud's bus: each names the host it is."""
    bus = TraceBus(Origin(host="laptop", service="labcloud"))
    steps = bus.collect(types=(StepEvent,))
    flow_step(bus, 28, "req-1", instance_uuid="i1", host="compute2")
    flow_step(bus, 16, "req-1", instance_uuid="i1")  # nova-conductor, in the same process
    assert [(s.step, s.host, s.process) for s in steps] == [
        (28, "compute2", PROCESS),
        (16, "laptop", PROCESS),
    ]


def test_a_clients_step_names_no_host_but_the_process_that_saw_it() -> None:
    """Steps 1 and 3 are reported by keystone and nova-api on receipt: the client's machine
    is not known, so no host is claimed for it."""
    bus = TraceBus(Origin(host="controller", service="keystone"))
    steps = bus.collect(types=(StepEvent,))
    flow_step(bus, 1, "req-1")
    flow_step(bus, 2, "req-1")
    assert [(s.service, s.host, s.process) for s in steps] == [
        ("client", "", PROCESS),
        ("keystone", "controller", PROCESS),
    ]
    assert step_place(steps[0]) == f"client ({PROCESS})"


def test_a_bus_without_origin_claims_no_place() -> None:
    bus = TraceBus()  # a notebook's bus that re-emits events made elsewhere
    steps = bus.collect(types=(StepEvent,))
    flow_step(bus, 16, "req-1")
    assert [(s.host, s.process) for s in steps] == [("", "")]
    assert step_place(steps[0]) == "nova-conductor"


def test_a_binarys_steps_carry_its_configured_host_and_its_process() -> None:
    conf = parse("[DEFAULT]\nhost = controller\ntransport_url = memory://\n", "nova")
    binary = Binary("nova-scheduler", conf)  # nothing connects before start()
    steps = binary.bus.collect(types=(StepEvent,))
    flow_step(binary.bus, 10, "req-1", instance_uuid="i1")
    assert [(s.service, s.host, s.process) for s in steps] == [
        ("nova-scheduler", "controller", PROCESS)
    ]
