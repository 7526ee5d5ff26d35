"""One contract, every hypervisor driver: the fake, and libvirt on ``test:///default``
(libvirt's own test driver: domains in memory, no daemon, no QEMU). Real QEMU guests go
through the same functions in tests/system/test_libvirt_guest.py."""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from labcloud.compute.states import PowerState
from labcloud.compute.virt import get_driver
from labcloud.compute.virt.driver import (
    ComputeDriver,
    InstanceExists,
    InstanceNotOnHypervisor,
    VirtDriverError,
)
from tests.conftest import require

IMAGE_BYTES = 1 << 20


@dataclass
class Harness:
    """A driver, what it boots, and how a test sees inside it."""

    driver: ComputeDriver
    image: dict[str, Any]
    fail_next_spawn: Callable[[], None]
    volumes: Callable[[dict[str, Any]], set[str]]  # mountpoints seen by the hypervisor
    leftovers: Callable[[str], list[str]]  # what of an instance is still there
    flavor: dict[str, Any] = field(
        default_factory=lambda: {"vcpus": 1, "memory_mb": 256, "root_gb": 1}
    )

    def instance(self, name: str = "vm") -> dict[str, Any]:
        return {"uuid": str(uuid.uuid4()), "display_name": name, "flavor": dict(self.flavor)}


def fake_harness() -> Harness:
    from labcloud.compute.virt.fake import FakeDriver

    driver = get_driver("fake", "compute1")
    assert isinstance(driver, FakeDriver)
    return Harness(
        driver,
        {"id": "image-1", "disk_format": "qcow2"},
        fail_next_spawn=lambda: driver.fail_next_spawns(1, "the test said so"),
        volumes=lambda vm: set(driver._volumes.get(vm["uuid"], set())),
        leftovers=lambda u: [u] if u in driver._domains else [],
    )


def libvirt_harness(
    tmp: Path, uri: str = "test:///default", **options: Any
) -> tuple[Harness, Callable[[], None]]:
    """The libvirt driver on ``uri`` (its images cached under ``tmp``); and its close."""
    require(importlib.util.find_spec("libvirt") is not None, "libvirt-python is not installed")
    require(
        shutil.which("qemu-img") is not None, "qemu-img is missing (apt-get install qemu-utils)"
    )
    import libvirt

    from labcloud.compute.virt.libvirt import guest
    from labcloud.compute.virt.libvirt.driver import LibvirtDriver

    unknown: set[str] = set()

    def download(image_id: str) -> Iterator[bytes]:
        if image_id in unknown:
            raise VirtDriverError(reason=f"glance has no image {image_id}")
        yield bytes(IMAGE_BYTES)

    if uri.startswith("test:"):
        options = {"virt_type": "test", "start_daemons": False, "download": download} | options
    options = {"cache_dir": tmp / "cache"} | options
    driver = LibvirtDriver("compute1", uri=uri, instances_path=tmp / "instances", **options)
    driver.init_host()
    image = {"id": str(uuid.uuid4()), "disk_format": "raw"}

    def fail_next_spawn() -> None:
        bad = str(uuid.uuid4())
        unknown.add(bad)
        image["id"] = bad  # the next spawn asks for an image glance does not have

    def volumes(vm: dict[str, Any]) -> set[str]:
        """The disks of the domain's configuration (the next boot's; libvirt's test driver
        cannot hot-plug, and QEMU unplugs only once the guest lets go)."""
        domain = driver.domains.find(vm["uuid"])
        xml = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) if domain is not None else ""
        return {f"/dev/vd{c}" for c in "bcdef" if f"dev='vd{c}'" in xml}

    def leftovers(u: str) -> list[str]:
        left = [str(p) for p in (tmp / "instances").glob(f"{u}*")]
        if driver.domains.find(u, any_host=True) is not None:
            left.append(guest.domain_name(u))
        return left

    return Harness(driver, image, fail_next_spawn, volumes, leftovers), driver.close


@pytest.fixture(params=["fake", "libvirt-test"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fake":
        yield fake_harness()
        return
    h, close = libvirt_harness(tmp_path)
    yield h
    for u in h.driver.list_instances():
        h.driver.destroy({"uuid": u})
    close()


# -- the contract -----------------------------------------------------------------------
def test_spawn_runs_and_is_listed(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [{"mac_address": "fa:16:3e:00:00:01"}], {})
    assert d.get_info(vm).state is PowerState.RUNNING
    assert vm["uuid"] in d.list_instances()
    assert isinstance(d.get_console_output(vm), str)
    with pytest.raises(InstanceExists):
        d.spawn(vm, harness.image, [], {})
    d.destroy(vm)


def test_spawn_paused_then_unpause(harness: Harness) -> None:
    """What nova-compute does while it waits for network-vif-plugged: the instance is there
    (its NICs too), PAUSED, until it is let run."""
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [{"mac_address": "fa:16:3e:00:00:01"}], {}, paused=True)
    assert d.get_info(vm).state is PowerState.PAUSED
    assert vm["uuid"] in d.list_instances()
    d.unpause(vm)
    assert d.get_info(vm).state is PowerState.RUNNING
    d.unpause(vm)  # not paused: nothing happens
    assert d.get_info(vm).state is PowerState.RUNNING
    d.destroy(vm)


def test_a_paused_instance_is_destroyed_whole(harness: Harness) -> None:
    """A build whose ports never came up destroys its paused guest."""
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [{"mac_address": "fa:16:3e:00:00:01"}], {}, paused=True)
    d.destroy(vm)
    assert harness.leftovers(vm["uuid"]) == []
    assert vm["uuid"] not in d.list_instances()


def test_power_states_through_a_life(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [], {})
    for action, state in (
        (d.power_off, PowerState.SHUTDOWN),
        (d.power_on, PowerState.RUNNING),
        (d.suspend, PowerState.SUSPENDED),
        (d.resume, PowerState.RUNNING),
        (lambda i: d.reboot(i, "SOFT"), PowerState.RUNNING),
        (lambda i: d.reboot(i, "HARD"), PowerState.RUNNING),
    ):
        action(vm)
        assert d.get_info(vm).state is state
    d.destroy(vm)


def test_destroy_leaves_nothing_and_repeats(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [], {})
    d.destroy(vm)
    d.destroy(vm)  # safe twice
    assert harness.leftovers(vm["uuid"]) == []
    assert vm["uuid"] not in d.list_instances()
    with pytest.raises(InstanceNotOnHypervisor):
        d.get_info(vm)


def test_an_instance_not_here(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    for call in (d.get_info, d.power_off, d.power_on, d.unpause, d.get_console_output):
        with pytest.raises(InstanceNotOnHypervisor):
            call(vm)
    d.destroy(vm)  # nothing to do, and no error


def test_a_failed_spawn_leaves_nothing_and_can_be_retried(harness: Harness) -> None:
    """What lets nova-compute reschedule a build elsewhere: the error, and a clean host."""
    d, vm = harness.driver, harness.instance()
    image = dict(harness.image)
    harness.fail_next_spawn()
    with pytest.raises(VirtDriverError):
        d.spawn(vm, harness.image, [], {})
    assert harness.leftovers(vm["uuid"]) == []
    d.spawn(vm, image, [], {})
    assert d.get_info(vm).state is PowerState.RUNNING
    d.destroy(vm)


def test_resize_then_confirm(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [], {})
    d.migrate_disk_and_power_off(vm, "compute1")
    assert vm["uuid"] not in d.list_instances()
    bigger = vm | {"flavor": {"vcpus": 2, "memory_mb": 512, "root_gb": 2}}
    d.finish_migration(bigger, [], power_on=True)
    assert d.get_info(bigger).state is PowerState.RUNNING
    d.confirm_migration(bigger)
    d.destroy(bigger)
    assert harness.leftovers(vm["uuid"]) == []


def test_resize_then_revert(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [], {})
    d.migrate_disk_and_power_off(vm, "compute1")
    bigger = vm | {
        "flavor": {"vcpus": 2, "memory_mb": 512, "root_gb": 2},
        "old_flavor": vm["flavor"],
    }
    d.finish_migration(bigger, [], power_on=False)
    assert d.get_info(bigger).state is PowerState.SHUTDOWN
    d.destroy(bigger)  # the destination drops the new copy; the source's stays aside
    d.finish_revert_migration(bigger, power_on=True)
    assert d.get_info(vm).state is PowerState.RUNNING
    d.destroy(vm)
    d.confirm_migration(vm)  # nothing set aside any more: safe
    assert harness.leftovers(vm["uuid"]) == []


def test_revert_without_a_resize_is_refused(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance()
    with pytest.raises(InstanceNotOnHypervisor):
        d.finish_revert_migration(vm, power_on=True)


def test_volumes_attach_and_detach(harness: Harness, tmp_path: Path) -> None:
    d, vm = harness.driver, harness.instance()
    d.spawn(vm, harness.image, [], {})
    volume = tmp_path / "volume-1"
    volume.write_bytes(bytes(IMAGE_BYTES))
    info = {"driver_volume_type": "file", "data": {"device_path": str(volume)}}
    d.attach_volume(info, vm, "/dev/vdb")
    assert "/dev/vdb" in harness.volumes(vm)
    d.detach_volume(info, vm, "/dev/vdb")
    d.detach_volume(info, vm, "/dev/vdb")  # safe twice
    assert "/dev/vdb" not in harness.volumes(vm)
    d.destroy(vm)
    assert volume.exists()  # the volume is cinder's: deleting the instance keeps it


def test_available_resource(harness: Harness) -> None:
    resources = harness.driver.get_available_resource()
    assert {"vcpus", "memory_mb", "local_gb", "hypervisor_type"} <= set(resources)
    assert resources["vcpus"] > 0
    assert resources["memory_mb"] > 0
    assert resources["hypervisor_hostname"] == "compute1"
