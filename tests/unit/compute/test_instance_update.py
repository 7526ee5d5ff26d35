"""Instances.update: one UPDATE returning the row; a StateEvent only when a state changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labcloud.compute.instances import Instances
from labcloud.compute.models import Base
from labcloud.db import Database
from labcloud.exceptions import InstanceNotFound, UnexpectedVMStateError
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StateEvent


@pytest.fixture
def bus() -> TraceBus:
    return TraceBus()


@pytest.fixture
def instances(tmp_path: Path, bus: TraceBus) -> Iterator[Instances]:
    db = Database(f"sqlite:///{tmp_path / 'nova.sqlite'}", Base.metadata)
    db.create_all()
    found = Instances(db, bus, "nova-conductor")
    found.create(
        {
            "uuid": "i1",
            "display_name": "i1",
            "project_id": "p1",
            "user_id": "u1",
            "flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1},
            "vm_state": "building",
            "task_state": "scheduling",
            "requested_networks": [{"uuid": "net1"}],
        }
    )
    yield found
    db.dispose()


def test_the_row_comes_back_written_and_each_state_change_is_traced_once(
    instances: Instances, bus: TraceBus
) -> None:
    log = bus.collect()
    info = [{"port_id": "p1", "fixed_ips": [{"ip_address": "10.0.0.3"}]}]
    done = instances.update(
        "i1", {"task_state": "networking", "network_info": info}, expected_vm_state="building"
    )
    assert (done["task_state"], done["network_info"], done["status"]) == (
        "networking",
        info,
        "BUILD",
    )
    assert done["requested_networks"] == [{"uuid": "net1"}]  # the columns not written too
    assert done == instances.get("i1")
    instances.update("i1", {"task_state": "networking"}, expected_vm_state="building")
    instances.update("i1", {"host": "compute1"})  # no state in it
    assert instances.get("i1")["host"] == "compute1"
    states = [e for e in log if isinstance(e, StateEvent)]
    assert [(e.task_state, e.service) for e in states] == [("networking", "nova-conductor")]


def test_an_unexpected_state_or_a_missing_instance_is_not_written(instances: Instances) -> None:
    with pytest.raises(UnexpectedVMStateError, match="active"):
        instances.update("i1", {"vm_state": "error"}, expected_vm_state="active")
    assert instances.get("i1")["vm_state"] == "building"
    with pytest.raises(InstanceNotFound):
        instances.update("nope", {"task_state": None}, expected_vm_state="building")
    with pytest.raises(InstanceNotFound):
        instances.update("nope", {"host": "h"})


def test_a_fault_is_written_with_the_error(instances: Instances) -> None:
    instances.update(
        "i1",
        {"vm_state": "error", "task_state": None},
        expected_vm_state="building",
        fault=(500, "boom", "details"),
    )
    fault = instances.fault("i1")
    assert fault is not None
    assert (fault["code"], fault["message"]) == (500, "boom")
    assert instances.get("i1")["status"] == "ERROR"
