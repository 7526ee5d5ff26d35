"""A subscriber that names its event types gets only those, and emitters of other types
see that nobody wants theirs (so no MessageEvent is built for a boot waiting on states)."""

from __future__ import annotations

from typing import Any

from labcloud.messaging.tap import Tap
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import MessageEvent, Origin, StateEvent, StepEvent


def _state() -> StateEvent:
    return StateEvent(resource="instance", id="i1", status="ACTIVE")


def test_a_typed_subscriber_gets_only_its_types_and_wants_says_so() -> None:
    bus = TraceBus()
    assert not bus.wants(StateEvent)
    seen: list[Any] = []
    sub = bus.subscribe(seen.append, types=(StateEvent,))
    assert bus.wants(StateEvent)
    assert not bus.wants(MessageEvent, StepEvent)
    assert bus.wants(MessageEvent, StateEvent)
    bus.emit(MessageEvent(event="publish", kind="cast", exchange="nova", routing_key="compute"))
    bus.emit(_state())
    assert [type(e) for e in seen] == [StateEvent]
    sub.close()
    assert not bus.wants(StateEvent)


def test_an_untyped_subscriber_or_a_gate_wants_everything() -> None:
    bus = TraceBus()
    sub = bus.subscribe(lambda e: None)
    assert bus.wants(MessageEvent)
    sub.close()
    bus.add_gate(lambda e: None)
    assert bus.wants(MessageEvent)


def test_the_tap_builds_no_message_event_when_only_states_are_wanted() -> None:
    bus = TraceBus()
    tap = Tap(bus, Origin(service="nova-compute"))
    states = bus.collect(types=(StateEvent,))
    everything = bus.collect()
    tap.emit("publish", "cast", exchange="nova", routing_key="compute", msg={"method": "m"})
    assert tap.active
    everything.close()
    assert not tap.active
    tap.emit("publish", "cast", exchange="nova", routing_key="compute", msg={"method": "m"})
    assert [e.method for e in everything] == ["m"]
    assert list(states) == []
