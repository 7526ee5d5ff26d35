"""A build the conductor gives up: ERROR with a fault, its ports freed with the service user's
context; a host that finishes it late cannot bring it back (nova's expected state)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labcloud.compute.conductor.manager import ConductorManager
from labcloud.compute.instances import Instances
from labcloud.compute.models import Base
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import LabCloudError, UnexpectedVMStateError

SERVICE = RequestContext(user_name="nova", roles=("service",), auth_token="service-token")


class Neutron:
    """Just what release_ports asks of neutron: the instance's ports, and deletes."""

    def __init__(self, ports: dict[str, str]) -> None:
        self.ports = ports  # port id -> device id
        self.seen: list[str | None] = []  # the token of each request

    def list_ports(self, ctxt: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        self.seen.append(ctxt.auth_token)
        return [{"id": p} for p, device in self.ports.items() if device == instance_uuid]

    def delete_port(self, ctxt: RequestContext, port_id: str) -> None:
        self.seen.append(ctxt.auth_token)
        del self.ports[port_id]


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Instances]:
    db = Database(f"sqlite:///{tmp_path / 'nova.sqlite'}", Base.metadata)
    db.create_all()
    yield Instances(db, None, "nova-conductor")
    db.dispose()


def _building(instances: Instances, uuid: str, host: str | None) -> None:
    instances.create(
        {
            "uuid": uuid,
            "display_name": uuid,
            "project_id": "p1",
            "user_id": "u1",
            "flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1},
            "vm_state": "building",
            "task_state": "spawning",
            "host": host,
            "availability_zone": "nova",
        }
    )


def conductor_with(instances: Instances, neutron: Neutron) -> ConductorManager:
    """A conductor that only checks builds: no scheduler, no compute, hosts down after 10 s."""
    return ConductorManager(
        instances,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        ServiceGroup(10),
        neutron=neutron,  # type: ignore[arg-type]
        service_context=lambda: SERVICE,
    )


def test_a_build_on_a_down_host_ends_error_and_its_ports_go(instances: Instances) -> None:
    _building(instances, "i1", "gone")  # a host that never reported: down
    _building(instances, "i2", None)  # still scheduling, no host: not the check's business
    neutron = Neutron({"p1": "i1", "p2": "i2"})
    conductor = conductor_with(instances, neutron)
    assert conductor.check_builds() == ["i1"]
    assert instances.get("i1")["vm_state"] == "error"
    assert "compute host gone is down" in str(instances.fault("i1"))
    assert neutron.ports == {"p2": "i2"}  # i1's port deleted, i2's kept
    assert set(neutron.seen) == {"service-token"}


def test_a_late_host_cannot_bring_a_given_up_build_back(instances: Instances) -> None:
    _building(instances, "i1", "compute1")
    instances.update("i1", {"vm_state": "error", "task_state": None})  # given up
    with pytest.raises(UnexpectedVMStateError):
        instances.update("i1", {"vm_state": "active"}, expected_vm_state="building")
    assert instances.get("i1")["vm_state"] == "error"
    _building(instances, "i2", "compute1")
    done = instances.update("i2", {"vm_state": "active"}, expected_vm_state="building")
    assert done["vm_state"] == "active"


def test_the_conductor_leaves_a_build_its_host_finished(instances: Instances) -> None:
    """The check read BUILDING, the host wrote ACTIVE before the check's ERROR: no ERROR,
    no fault, the ports stay."""
    _building(instances, "i1", "gone")
    neutron = Neutron({"p1": "i1"})
    conductor = conductor_with(instances, neutron)
    building = instances.where(vm_state="building")
    instances.update("i1", {"vm_state": "active", "task_state": None})
    instances.where = lambda **_: building  # type: ignore[method-assign]
    assert conductor.check_builds() == []
    assert instances.get("i1")["vm_state"] == "active"
    assert instances.fault("i1") is None
    assert neutron.ports == {"p1": "i1"}


class ServiceUnavailable(LabCloudError):
    code = 503


class UnavailableOnce(Neutron):
    """neutron answering 503 the first time (its keystone briefly unavailable, as under load)."""

    def __init__(self, ports: dict[str, str]) -> None:
        super().__init__(ports)
        self.refused = False

    def list_ports(self, ctxt: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        if not self.refused:
            self.refused = True
            raise ServiceUnavailable("The Keystone service is temporarily unavailable.")
        return super().list_ports(ctxt, instance_uuid)


def test_ports_a_failed_release_kept_are_released_at_the_next_check(
    instances: Instances,
) -> None:
    _building(instances, "i1", "gone")
    neutron = UnavailableOnce({"p1": "i1"})
    conductor = conductor_with(instances, neutron)
    assert conductor.check_builds() == ["i1"]
    assert neutron.ports == {"p1": "i1"}  # neutron refused: the port is still there
    assert conductor.check_builds() == []  # i1 is ERROR now: not given up again
    assert neutron.ports == {}  # but its port went at this check
