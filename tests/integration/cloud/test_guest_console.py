"""The guest's boot line under step 28, in a whole in-kernel cloud: nova-compute's console
watch reads a console the test writes (the fake hypervisor runs no guest, so the test plays
the guest), the build goes ACTIVE without waiting for it, and the recorder and the flow view
show the line once it is printed. A deleted guest and a stopped cloud leave no watch thread."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from labcloud.cloud import LabCloud
from labcloud.compute.console import ConsoleWatch
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.notebook import watch as watch_board
from labcloud.spec import CloudSpec
from labcloud.trace.events import ConsoleEvent
from labcloud.trace.flow import FlowRecorder
from tests.integration.cloud.test_boot_flow import Client

MARKER = "labcloud-guest: ready"


class GuestConsole:
    """A serial console the test prints on, for the fake hypervisor's instances."""

    boot_marker = MARKER

    def __init__(self, driver: ComputeDriver) -> None:
        self.driver = driver
        self.printed: dict[str, str] = {}

    def get_console_output(self, instance: dict[str, Any]) -> str:
        self.driver.get_info(instance)  # InstanceNotOnHypervisor once it is gone, as libvirt's
        return self.printed.get(instance["uuid"], "")


def play_the_guest(cloud: LabCloud) -> tuple[GuestConsole, ConsoleWatch]:
    manager = cloud.compute.computes["compute1"]
    console = GuestConsole(cloud.compute_driver("compute1"))
    manager.console = ConsoleWatch(console, cloud.bus, "compute1", poll=0.01)
    return console, manager.console


def watch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("console-watch-")]


def test_the_boot_line_comes_after_active_and_is_drawn_under_step_28() -> None:
    with LabCloud(CloudSpec.demo(hosts=1)) as cloud:
        console, watch = play_the_guest(cloud)
        flow, board = FlowRecorder(cloud.bus), watch_board(cloud)
        client = Client(cloud)
        uuid = client.boot("vm1")
        flow.wait_for_state(uuid, "ACTIVE")  # the build did not wait for the guest
        assert flow.console(uuid) is None
        assert watch.watching() == [uuid]
        console.printed[uuid] = "Linux version 6.1.0\nlabcloud-guest: vm1 booted\n" + MARKER
        line = flow.wait_for_console(uuid)
        assert (line.line, line.seen) == (MARKER, True)
        spawned = next(s for s in flow.steps_of(uuid) if s.step == 28)
        assert line.time >= spawned.time
        assert line.after_spawn == round(line.time - spawned.time, 3)
        assert str(line).startswith(f"guest console: {MARKER} (+")
        board.flush()
        view = board.flow
        assert view.instance == uuid
        assert (view.console["line"], view.console["seen"]) == (MARKER, True)
        assert view.current == 28  # labcloud's observation, not a step of the flow
        assert [r["status"] for r in view.rows][-1] == "ACTIVE"
        assert [s.step for s in flow.steps_of(uuid)][-1] == 28

        # deleted before it prints its line: the watch ends, nothing is reported
        seen = cloud.bus.collect(types=(ConsoleEvent,))
        uuid2 = client.boot("vm2")
        flow.wait_for_state(uuid2, "ACTIVE")
        assert uuid2 in watch.watching()
        gone = httpx.delete(f"{client.nova}/servers/{uuid2}", headers=client.headers())
        assert gone.status_code == 204
        flow.wait_for_state(uuid2, "DELETED")
        assert watch.watching() == []
        assert watch_threads() == []
        assert list(seen) == []
        assert flow.console(uuid2) is None


def test_a_stopping_cloud_ends_its_watches() -> None:
    with LabCloud(CloudSpec.demo(hosts=1)) as cloud:
        _, watch = play_the_guest(cloud)
        flow = FlowRecorder(cloud.bus)
        uuid = Client(cloud).boot("vm1")
        flow.wait_for_state(uuid, "ACTIVE")
        assert watch.watching() == [uuid]
    assert watch.watching() == []
    assert watch_threads() == []


def test_the_fake_hypervisor_prints_no_boot_line() -> None:
    with LabCloud(CloudSpec.demo(hosts=1)) as cloud:
        flow, board = FlowRecorder(cloud.bus), watch_board(cloud)
        seen = cloud.bus.collect(types=(ConsoleEvent,))
        uuid = Client(cloud).boot("vm1")
        flow.wait_for_state(uuid, "ACTIVE")
        board.flush()
        assert cloud.compute.computes["compute1"].console.watching() == []
        assert list(seen) == []
        assert board.flow.console == {}
        assert watch_threads() == []
