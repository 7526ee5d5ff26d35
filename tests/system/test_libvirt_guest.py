"""Real guests: the tiny image boots under QEMU (KVM where it works, TCG otherwise) through
the libvirt driver, and through a whole in-kernel cloud, whose 28 steps end with the
guest's marker on its console. Needs root, libvirt-python, QEMU, libvirtd and the tiny
image's Debian packages; in CI a missing one fails the test."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require
from tests.integration.compute import test_virt_contract as contract
from tests.integration.compute.test_virt_contract import Harness, libvirt_harness

BOOT_DEADLINE = 120.0  # s: the target is 10 under TCG; a loaded CI machine gets slack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _requirements() -> None:
    require(os.geteuid() == 0, "QEMU guests through qemu:///system need root")
    require(importlib.util.find_spec("libvirt") is not None, "libvirt-python is not installed")
    for program, package in (
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("qemu-img", "qemu-utils"),
        ("libvirtd", "libvirt-daemon-system"),
        ("cpio", "cpio"),
    ):
        require(
            shutil.which(program) is not None or Path(f"/usr/sbin/{program}").exists(),
            f"{program} is missing (apt-get install {package})",
        )
    require(any(Path("/boot").glob("vmlinuz-*")), "no kernel (apt-get install linux-image-amd64)")
    require(Path("/bin/busybox").exists(), "busybox is missing (apt-get install busybox)")


@pytest.fixture(scope="module")
def libvirtd() -> Iterator[None]:
    """qemu:///system answering: started here (and stopped after) when it was not running."""
    _requirements()
    from labcloud.compute.virt.libvirt.host import LibvirtDaemons

    daemons = LibvirtDaemons()
    try:
        daemons.ensure()
    except RuntimeError as exc:
        pytest.fail(f"libvirtd did not start: {exc}", pytrace=False)
    yield
    daemons.stop()


@pytest.fixture(scope="module")
def tiny() -> Any:
    from labcloud.compute.virt.libvirt import image

    _requirements()
    return image.build()  # the user's cache: built once, as labcloud up builds it


def _tiny_meta(tiny: Any) -> dict[str, Any]:
    from labcloud.compute.virt.libvirt import image

    machine = image.glance_images(tiny)[2]
    return {"disk_format": "raw"} | machine.properties


def _marker_seen(read: Any, count: int = 1, deadline: float = BOOT_DEADLINE) -> float:
    """Seconds until the guest's marker is on its console ``count`` times (fails past the
    deadline); the console is a file QEMU appends to, so it is read until it says so."""
    from labcloud.compute.virt.libvirt.image import MARKER

    start = time.monotonic()
    while read().count(MARKER) < count:
        if time.monotonic() - start > deadline:
            pytest.fail(f"no boot marker within {deadline} s; console:\n{read()[-2000:]}")
        time.sleep(0.2)  # polling a file QEMU writes: there is no event to wait on
    return time.monotonic() - start


@pytest.fixture
def harness(libvirtd: None, tiny: Any, tmp_path: Path) -> Iterator[Harness]:
    """The contract's harness on real QEMU guests, booting the tiny image."""
    h, close = libvirt_harness(
        tmp_path,
        uri="qemu:///system",
        start_daemons=False,
        shutdown_timeout=3.0,
        cache_dir=tiny.kernel.parent.parent,  # the image and the KVM probe's answer, cached
    )
    good = _tiny_meta(tiny)
    h.image.clear()
    h.image.update(good)

    def fail_next_spawn() -> None:
        h.image["id"] = "not-in-any-cache"  # nothing to download it with: the spawn fails

    h.fail_next_spawn = fail_next_spawn
    yield h
    for u in h.driver.list_instances():
        h.driver.destroy({"uuid": u})
    close()


# the driver contract, on real guests
test_spawn_runs_and_is_listed = contract.test_spawn_runs_and_is_listed
test_power_states_through_a_life = contract.test_power_states_through_a_life
test_spawn_paused_then_unpause = contract.test_spawn_paused_then_unpause
test_a_paused_instance_is_destroyed_whole = contract.test_a_paused_instance_is_destroyed_whole
test_destroy_leaves_nothing_and_repeats = contract.test_destroy_leaves_nothing_and_repeats
test_a_failed_spawn_leaves_nothing = contract.test_a_failed_spawn_leaves_nothing_and_can_be_retried
test_resize_then_confirm = contract.test_resize_then_confirm
test_resize_then_revert = contract.test_resize_then_revert
test_volumes_attach_and_detach = contract.test_volumes_attach_and_detach


def test_the_tiny_guest_boots_answers_and_reboots(harness: Harness) -> None:
    d, vm = harness.driver, harness.instance("tiny1")
    d.spawn(vm, harness.image, [{"mac_address": "fa:16:3e:00:00:42"}], {})
    seconds = _marker_seen(lambda: d.get_console_output(vm))  # type: ignore[attr-defined]
    console = d.get_console_output(vm)  # type: ignore[attr-defined]
    print(f"boot to marker: {seconds:.1f} s ({d.virt_type})")  # type: ignore[attr-defined]
    assert "labcloud-guest: tiny1 booted" in console
    assert "address 10.0.2.15/24 on eth0" in console  # libvirt's user networking's DHCP
    assert "http hello from labcloud guest tiny1" in console  # its web page answers
    d.shutdown_timeout = 60.0  # type: ignore[attr-defined]
    d.reboot(vm, "SOFT")  # the ACPI power button: the guest powers itself off
    _marker_seen(lambda: d.get_console_output(vm), count=2)  # type: ignore[attr-defined]
    d.destroy(vm)
    assert harness.leftovers(vm["uuid"]) == []


def test_the_cloud_boots_a_real_guest_through_the_28_steps(libvirtd: None, tiny: Any) -> None:
    from labcloud.cloud import LabCloud
    from labcloud.compute.virt.libvirt import image
    from labcloud.notebook import watch
    from labcloud.spec import CloudSpec
    from labcloud.trace.flow import FlowRecorder

    spec = CloudSpec.demo(hosts=1).but(images=image.glance_images(tiny))
    with LabCloud(spec, compute_driver="libvirt") as cloud:
        flow, board = FlowRecorder(cloud.bus), watch(cloud)
        boot = cloud.boot("vm1")
        boot.wait("ACTIVE", timeout=BOOT_DEADLINE)
        uuid = boot.server_id
        steps = [e.step for e in flow.steps_of(uuid)]
        assert steps[-1] == 28
        assert set(range(1, 29)) - {25, 26, 27} <= set(steps)  # no volumes: no cinder steps
        driver = cloud.compute_driver("compute1")
        # nova-compute's console watch reports the guest's boot line, after step 28
        line = flow.wait_for_console(uuid, timeout=BOOT_DEADLINE + 10)
        assert (line.line, line.seen) == (image.MARKER, True), line
        print(f"{line} ({driver.virt_type})")  # type: ignore[attr-defined]
        assert image.MARKER in driver.get_console_output({"uuid": uuid})
        board.flush()
        assert board.flow.instance == uuid
        assert board.flow.current == 28
        assert (board.flow.console["line"], board.flow.console["seen"]) == (image.MARKER, True)
        assert [e.step for e in flow.steps_of(uuid)][-1] == 28  # the watch is no nova step
        token = cloud.login("demo")
        console = httpx.post(  # what `openstack console log show vm1` asks nova-api
            f"{cloud.urls['compute']}/v2.1/servers/{uuid}/action",
            json={"os-getConsoleOutput": {"length": 50}},
            headers={"X-Auth-Token": token},
        )
        assert console.status_code == 200, console.text
        assert "labcloud-guest: vm1 booted" in console.json()["output"]
        answer = httpx.delete(
            f"{cloud.urls['compute']}/v2.1/servers/{uuid}", headers={"X-Auth-Token": token}
        )
        assert answer.status_code == 204
        flow.wait_for_state(uuid, "DELETED", timeout=60)
        assert cloud.compute.computes["compute1"].console.watching() == []
        assert uuid not in driver.list_instances()
        leftovers = list(driver.domains.instances_path.glob(f"{uuid}*"))  # type: ignore[attr-defined]
        assert leftovers == []
        boot.close()


def test_a_real_guest_on_the_datapath_gets_its_lease_and_answers(libvirtd: None, tiny: Any) -> None:
    """With the linuxbridge datapath, the guest's NIC is a tap the L2 agent plugs into its
    network's bridge: the guest gets the port's address from dnsmasq, answers ping and
    serves its page to the network's DHCP namespace (once its default security group lets
    ICMP and HTTP in); deleting it leaves no tap behind."""
    import re

    from labcloud.cloud import LabCloud
    from labcloud.compute.virt.libvirt import image
    from labcloud.netns import links, procs
    from labcloud.spec import CloudSpec

    require(links.available()[0], links.available()[1])
    spec = CloudSpec.demo(hosts=1).but(images=image.glance_images(tiny))
    with LabCloud(spec, compute_driver="libvirt", datapath="linuxbridge") as cloud:
        _let_in_ping_and_http(cloud)
        boot = cloud.boot("vm1")
        boot.wait("ACTIVE", timeout=BOOT_DEADLINE)
        uuid = boot.server_id
        address = cloud.network.guests.address(uuid)
        driver = cloud.compute_driver("compute1")
        console = lambda: driver.get_console_output({"uuid": uuid})  # noqa: E731
        deadline = time.monotonic() + BOOT_DEADLINE
        while "labcloud-guest: ready" not in console() and time.monotonic() < deadline:
            time.sleep(0.5)
        leased = re.search(r"labcloud-guest: address (\S+) on eth0", console())
        assert leased is not None, console()[-2000:]
        assert leased.group(1).split("/")[0] == address, console()[-2000:]
        assert cloud.ping(uuid, count=3)
        port = cloud.network.guests.port(uuid)
        qdhcp = cloud.network.fabric.ns(f"qdhcp-{port['network_id']}")  # type: ignore[union-attr]
        page = procs.run(qdhcp, ["busybox", "wget", "-q", "-O", "-", f"http://{address}/"])
        assert page.stdout.strip() == "hello from labcloud guest vm1", page
        host_ns = cloud.network.fabric.host("compute1")  # type: ignore[union-attr]
        tap = links.tap_name(port["id"])
        with links.iproute(host_ns) as ipr:
            assert links.index_of(ipr, tap) is not None
        token = cloud.login("demo")
        answer = httpx.delete(
            f"{cloud.urls['compute']}/v2.1/servers/{uuid}", headers={"X-Auth-Token": token}
        )
        assert answer.status_code == 204
        deadline = time.monotonic() + 60
        while uuid in driver.list_instances() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert uuid not in driver.list_instances()
        with links.iproute(host_ns) as ipr:
            assert links.index_of(ipr, tap) is None
        boot.close()


def test_an_image_the_host_never_built_is_downloaded_from_glance(libvirtd: None, tiny: Any) -> None:
    """The tiny image uploaded again under new ids, as a user uploads cirros (POST and PUT
    to glance): nova-compute has none of them cached, downloads kernel, ramdisk and disk
    from glance with the user's token into its image cache, and the guest boots them."""
    from labcloud.cloud import LabCloud
    from labcloud.compute.virt.libvirt import image
    from labcloud.spec import CloudSpec

    with LabCloud(CloudSpec.demo(hosts=1), compute_driver="libvirt") as cloud:
        token = cloud.login("demo")
        glance = httpx.Client(
            base_url=cloud.urls["image"], headers={"X-Auth-Token": token}, timeout=60
        )
        new: dict[str, str] = {}
        for built in image.glance_images(tiny):  # kernel, ramdisk, then the disk naming both
            extra = {
                k: new[v] for k, v in built.properties.items() if k in ("kernel_id", "ramdisk_id")
            }
            if "os_command_line" in built.properties:
                extra["os_command_line"] = built.properties["os_command_line"]
            made = glance.post(
                "/v2/images",
                json={
                    "name": f"uploaded-{built.name}",
                    "disk_format": built.disk_format,
                    "container_format": built.container_format,
                    **extra,
                },
            )
            assert made.status_code == 201, made.text
            put = glance.put(
                f"/v2/images/{made.json()['id']}/file",
                content=built.data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert put.status_code == 204, put.text
            new[built.properties["id"]] = made.json()["id"]
        boot = cloud.boot("vm1", image="uploaded-cirros", token=token)
        boot.wait("ACTIVE", timeout=BOOT_DEADLINE)
        driver = cloud.compute_driver("compute1")
        _marker_seen(lambda: driver.get_console_output({"uuid": boot.server_id}))
        cached = {p.name for p in driver.images.directory.iterdir()}  # type: ignore[attr-defined]
        assert set(new.values()) <= cached
        gone = httpx.delete(
            f"{cloud.urls['compute']}/v2.1/servers/{boot.server_id}",
            headers={"X-Auth-Token": token},
        )
        assert gone.status_code == 204  # a stopped cloud leaves its guests running, as nova
        deadline = time.monotonic() + 60
        while boot.server_id in driver.list_instances() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert boot.server_id not in driver.list_instances()
        boot.close()


def _let_in_ping_and_http(cloud: Any) -> None:
    """What a neutron user does before pinging a guest from outside its group:
    ``openstack security group rule create --protocol icmp default`` (and tcp 80)."""
    url, headers = cloud.urls["network"] + "/v2.0", {"X-Auth-Token": cloud.login("demo")}
    groups = httpx.get(f"{url}/security-groups?name=default", headers=headers).json()
    group = groups["security_groups"][0]["id"]
    for rule in (
        {"protocol": "icmp"},
        {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80},
    ):
        body = {"security_group_id": group, "direction": "ingress"} | rule
        made = httpx.post(
            f"{url}/security-group-rules", json={"security_group_rule": body}, headers=headers
        )
        assert made.status_code == 201, made.text
