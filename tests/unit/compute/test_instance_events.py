"""nova-compute's waiters for neutron's events (compute/instance_events.py): an event that
comes before the wait starts or while it runs ends the wait; none in time fails the build
when vif_plugging_is_fatal; an event nobody waits for is traced as unexpected."""

from __future__ import annotations

import threading

import pytest

from labcloud.compute.instance_events import (
    VIF_PLUGGED,
    InstanceEvents,
    VifWait,
    VirtualInterfaceCreateException,
)
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import ExternalEvent

UUID, PORT = "11111111-2222-3333-4444-555555555555", "port-1"


class Watched(threading.Event):
    """An Event that says when someone starts waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def traced(bus: TraceBus) -> list[ExternalEvent]:
    seen: list[ExternalEvent] = []
    bus.subscribe(seen.append, where=lambda e: isinstance(e, ExternalEvent))
    return seen


def test_an_event_before_the_wait_starts_is_not_lost() -> None:
    bus = TraceBus()
    seen = traced(bus)
    events = InstanceEvents(bus, "compute1")
    with events.wait_for(UUID, 30) as vifs:
        vifs.expect(PORT)
        assert events.deliver(UUID, VIF_PLUGGED, PORT, "completed", sender="neutron")
    assert [(e.event, e.name, e.tag, e.sender) for e in seen] == [
        ("received", VIF_PLUGGED, PORT, "neutron")
    ]
    assert events.pop(UUID, VIF_PLUGGED, PORT) is None  # nothing left registered


def test_an_event_while_the_build_waits_ends_the_wait() -> None:
    events = InstanceEvents()
    delivered: list[bool] = []
    with events.wait_for(UUID, 30) as vifs:
        vifs.expect(PORT)
        watched = Watched()
        vifs.waiters[0].done = watched

        def neutron() -> None:
            watched.waiting.wait(30)
            delivered.append(events.deliver(UUID, VIF_PLUGGED, PORT, "completed"))

        thread = threading.Thread(target=neutron)
        thread.start()
    thread.join(30)
    assert delivered == [True]


def test_no_event_in_time_is_fatal() -> None:
    bus = TraceBus()
    seen = traced(bus)
    events = InstanceEvents(bus, "compute1")
    with pytest.raises(VirtualInterfaceCreateException), events.wait_for(UUID, 0.05) as vifs:
        vifs.expect(PORT)
    assert [(e.event, e.tag) for e in seen] == [("timed-out", PORT)]
    assert events.pop(UUID, VIF_PLUGGED, PORT) is None
    # the event coming late finds nobody: it is unexpected, nothing breaks
    assert not events.deliver(UUID, VIF_PLUGGED, PORT, "completed")
    assert seen[-1].event == "unexpected"


def test_no_event_in_time_is_not_fatal_when_configured() -> None:
    events = InstanceEvents()
    with events.wait_for(UUID, 0.05, fatal=False) as vifs:
        vifs.expect(PORT)
    assert events.pop(UUID, VIF_PLUGGED, PORT) is None


def test_a_failed_plug_is_fatal() -> None:
    events = InstanceEvents()

    def build() -> None:
        with events.wait_for(UUID, 30) as vifs:
            vifs.expect(PORT)
            events.deliver(UUID, VIF_PLUGGED, PORT, "failed")

    with pytest.raises(VirtualInterfaceCreateException):
        build()


def test_a_deleted_instance_stops_the_wait() -> None:
    events = InstanceEvents()
    with events.wait_for(UUID, 30) as vifs:
        vifs.expect(PORT)
        events.clear(UUID)  # terminate_instance
    assert vifs.waiters[0].cancelled


def test_an_error_in_the_block_forgets_the_waiters() -> None:
    events = InstanceEvents()

    def build() -> None:
        with events.wait_for(UUID, 30) as vifs:
            vifs.expect(PORT)
            raise RuntimeError("spawn failed")

    with pytest.raises(RuntimeError):
        build()
    assert events.pop(UUID, VIF_PLUGGED, PORT) is None


def test_no_timeout_waits_for_nothing() -> None:
    events = InstanceEvents()
    with events.wait_for(UUID, 0) as vifs:
        vifs.expect(PORT)
    assert vifs.waiters == []


def test_a_port_plugged_before_its_waiter_existed_is_not_waited_for() -> None:
    """The no-op agent plugged the port (and neutron's event came, unexpected) between
    neutron's answer and ``expect``: the waiter registered afterwards finds the early event
    instead of waiting out vif_plugging_timeout."""
    bus = TraceBus()
    seen = traced(bus)
    events = InstanceEvents(bus)
    assert not events.deliver(UUID, VIF_PLUGGED, PORT, "completed")  # too early: nobody waits
    assert [e.event for e in seen] == ["unexpected"]  # traced as nova logs it
    with events.wait_for(UUID, timeout=30.0) as vifs:
        vifs.expect(PORT)
    assert [w.status for w in vifs.waiters] == ["completed"]
    assert events.pop(UUID, VIF_PLUGGED, PORT) is None  # nothing stays registered


def test_an_early_event_is_used_once_and_forgotten_with_its_instance() -> None:
    events = InstanceEvents()
    events.deliver(UUID, VIF_PLUGGED, PORT, "completed")
    events.clear(UUID)  # the instance is deleted
    vifs = VifWait(events, UUID, timeout=0.05)
    vifs.expect(PORT)
    with pytest.raises(VirtualInterfaceCreateException):
        vifs.finish(fatal=True)
