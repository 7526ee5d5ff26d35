"""neutron's nova notifier (network/nova.py): which port changes mean which event to nova,
and events gathered into one request."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from labcloud.network.nova import NovaNotifier, status_event

PORT = {"id": "p1", "device_id": "vm-uuid", "device_owner": "compute:nova"}


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, "ACTIVE", ("network-vif-plugged", "completed")),  # new, ACTIVE at once
        ("DOWN", "ACTIVE", ("network-vif-plugged", "completed")),
        ("BUILD", "ACTIVE", ("network-vif-plugged", "completed")),
        ("BUILD", "ERROR", ("network-vif-plugged", "failed")),
        ("ACTIVE", "DOWN", ("network-vif-unplugged", "completed")),
        (None, "DOWN", None),  # new, waiting for its agent
        ("DOWN", "BUILD", None),
        ("ACTIVE", "BUILD", None),
    ],
)
def test_status_changes(
    previous: str | None, current: str, expected: tuple[str, str] | None
) -> None:
    event = status_event(PORT, previous, current)
    if expected is None:
        assert event is None
    else:
        assert event is not None
        assert (event["name"], event["status"]) == expected
        assert (event["server_uuid"], event["tag"]) == ("vm-uuid", "p1")


@pytest.mark.parametrize(
    "port",
    [
        PORT | {"device_owner": "network:dhcp"},
        PORT | {"device_owner": "network:router_interface"},
        PORT | {"device_id": ""},  # taken back from its instance
    ],
)
def test_only_instances_ports_concern_nova(port: dict[str, Any]) -> None:
    assert status_event(port, "DOWN", "ACTIVE") is None


class FakeNova:
    """Records each request (a unit test of the batching, not of nova)."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.sent = threading.Semaphore(0)  # released once per request

    def server_external_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.requests.append(events)
        self.sent.release()
        return [e | {"code": 200} for e in events]

    def close(self) -> None:
        pass


def names(nova: FakeNova) -> list[list[tuple[str, str]]]:
    return [[(e["name"], e["tag"]) for e in r] for r in nova.requests]


def test_the_first_event_leaves_at_once() -> None:
    nova = FakeNova()
    notifier = NovaNotifier(nova, interval=600.0)  # type: ignore[arg-type]
    try:
        notifier.port_status_changed(PORT, "BUILD", "ACTIVE")
        assert nova.sent.acquire(timeout=10)  # not after the interval
    finally:
        notifier.stop()
    assert names(nova) == [[("network-vif-plugged", "p1")]]


def test_events_queued_while_it_holds_leave_in_one_request() -> None:
    nova = FakeNova()
    notifier = NovaNotifier(nova, interval=2.0)  # type: ignore[arg-type]  # neutron's
    try:
        notifier.port_status_changed(PORT, "BUILD", "ACTIVE")
        assert nova.sent.acquire(timeout=10)
        notifier.port_deleted(PORT | {"id": "p2"})
        notifier.port_status_changed(PORT | {"device_owner": "network:dhcp"}, "DOWN", "ACTIVE")
        notifier.port_status_changed(PORT | {"id": "p3"}, "ACTIVE", "DOWN")
        assert nova.sent.acquire(timeout=10)
    finally:
        notifier.stop()
    assert names(nova) == [
        [("network-vif-plugged", "p1")],
        [("network-vif-deleted", "p2"), ("network-vif-unplugged", "p3")],
    ]


def test_stop_drops_what_is_queued() -> None:
    nova = FakeNova()
    notifier = NovaNotifier(nova, interval=600.0)  # type: ignore[arg-type]
    notifier.port_status_changed(PORT, "BUILD", "ACTIVE")
    assert nova.sent.acquire(timeout=10)
    notifier.port_deleted(PORT | {"id": "p2"})  # held: the sender waits out its interval
    notifier.stop()  # without waiting for it
    notifier.port_deleted(PORT | {"id": "p3"})
    assert names(nova) == [[("network-vif-plugged", "p1")]]
