"""The fake hypervisor keeps the driver contract."""

from __future__ import annotations

import pytest

from labcloud.compute.states import PowerState, status
from labcloud.compute.virt import get_driver
from labcloud.compute.virt.driver import InstanceExists, InstanceNotOnHypervisor, VirtDriverError

VM = {"uuid": "u1", "display_name": "vm", "flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1}}


def test_power_states_through_a_life() -> None:
    d = get_driver("fake", "compute1")
    d.spawn(VM, {}, [], {})
    assert d.get_info(VM).state is PowerState.RUNNING
    assert d.list_instances() == ["u1"]
    for action, state in (
        (d.power_off, PowerState.SHUTDOWN),
        (d.power_on, PowerState.RUNNING),
        (d.suspend, PowerState.SUSPENDED),
        (d.resume, PowerState.RUNNING),
    ):
        action(VM)
        assert d.get_info(VM).state is state
    with pytest.raises(InstanceExists):
        d.spawn(VM, {}, [], {})
    d.destroy(VM)
    d.destroy(VM)  # safe twice
    with pytest.raises(InstanceNotOnHypervisor):
        d.get_info(VM)


def test_fail_next_spawns() -> None:
    d = get_driver("fake", "compute1")
    d.fail_next_spawns(2, "disk full")  # type: ignore[attr-defined]
    for _ in range(2):
        with pytest.raises(VirtDriverError, match="disk full"):
            d.spawn(VM, {}, [], {})
    d.spawn(VM, {}, [], {})
    assert d.get_available_resource()["hypervisor_type"] == "fake"


def test_api_status_from_vm_and_task_state() -> None:
    assert status("building", "scheduling") == "BUILD"
    assert status("active", "rebooting_hard") == "HARD_REBOOT"
    assert status("resized", None) == "VERIFY_RESIZE"
    assert status("error", None) == "ERROR"
    assert PowerState.NOSTATE.label == "NOSTATE"
    assert PowerState.RUNNING.label == "Running"
