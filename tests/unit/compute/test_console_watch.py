"""labcloud's console watch (compute/console.py) on a console the test writes: it reports the
boot line once it is there, gives up at its deadline with the last line, reports nothing for
a guest deleted meanwhile or a hypervisor without guests, and leaves no thread behind."""

from __future__ import annotations

import threading
from typing import Any

from labcloud.compute.console import ConsoleWatch
from labcloud.compute.virt.driver import InstanceNotOnHypervisor
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import ConsoleEvent, event_from_dict

MARKER = "guest: ready"


class Console:
    """A guest's serial console as the test writes it; each read is counted (and awaited)."""

    boot_marker: str | None = MARKER

    def __init__(self) -> None:
        self.text: dict[str, str] = {}
        self.gone: set[str] = set()
        self.reads = 0
        self._read = threading.Condition()

    def get_console_output(self, instance: dict[str, Any]) -> str:
        with self._read:
            self.reads += 1
            self._read.notify_all()
        if instance["uuid"] in self.gone:
            raise InstanceNotOnHypervisor(uuid=instance["uuid"])
        return self.text.get(instance["uuid"], "")

    def wait_reads(self, n: int) -> None:
        """Until the watch has read the console ``n`` times (it is polling, not done)."""
        with self._read:
            assert self._read.wait_for(lambda: self.reads >= n, 10)


def watch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("console-watch-")]


def test_the_boot_line_is_reported_once_it_is_there() -> None:
    bus, console = TraceBus(), Console()
    seen = bus.collect(types=(ConsoleEvent,))
    watch = ConsoleWatch(console, bus, "compute1", poll=0.01)
    console.text["u1"] = "Linux version 6.1\n"
    watch.watch({"uuid": "u1"}, "req-1")
    console.wait_reads(2)  # read, and found no marker: nothing reported yet
    assert list(seen) == []
    console.text["u1"] += f"{MARKER}\nlater line\n"
    event = seen.wait_for(lambda e: True)
    assert (event.instance_uuid, event.line, event.seen) == ("u1", MARKER, True)
    assert (event.request_id, event.host, event.marker) == ("req-1", "compute1", MARKER)
    assert event_from_dict(event.to_dict()) == event  # it crosses processes as it is
    watch.stop()
    assert watch.watching() == []
    assert watch_threads() == []
    assert len(seen) == 1


def test_at_the_deadline_the_last_line_is_reported_as_not_seen() -> None:
    bus, console = TraceBus(), Console()
    seen = bus.collect(types=(ConsoleEvent,))
    console.text["u1"] = "first\nstill booting\n\n"
    ConsoleWatch(console, bus, "compute1", deadline=0.0).watch({"uuid": "u1"})
    event = seen.wait_for(lambda e: True)
    assert (event.line, event.seen) == ("still booting", False)


def test_a_deleted_guest_stops_its_watch_and_reports_nothing() -> None:
    bus, console = TraceBus(), Console()
    seen = bus.collect(types=(ConsoleEvent,))
    watch = ConsoleWatch(console, bus, "compute1", poll=0.01)
    watch.watch({"uuid": "u1"})
    watch.watch({"uuid": "u2"})
    console.wait_reads(4)
    watch.cancel("u1")  # terminate_instance: the watch ends before the domain goes
    assert watch.watching() == ["u2"]
    console.gone.add("u2")  # gone from the hypervisor without a cancel (moved, undone)
    for thread in threading.enumerate():
        if thread.name == "console-watch-u2":
            thread.join(10)  # it ends by itself at its next read
    assert watch.watching() == []
    assert watch_threads() == []
    assert list(seen) == []


def test_stop_ends_every_watch_and_joins_its_thread() -> None:
    bus, console = TraceBus(), Console()
    bus.collect(types=(ConsoleEvent,))
    watch = ConsoleWatch(console, bus, "compute1", poll=60.0)  # asleep between reads
    for n in range(3):
        watch.watch({"uuid": f"u{n}"})
    console.wait_reads(3)
    assert len(watch_threads()) == 3
    watch.stop()
    assert watch.watching() == []
    assert watch_threads() == []


def test_no_watch_without_a_boot_line_or_a_listener() -> None:
    bus, console = TraceBus(), Console()
    ConsoleWatch(console, bus, "compute1").watch({"uuid": "u1"})  # nobody listens
    console.boot_marker = None  # the fake hypervisor: no guest boots
    bus.collect(types=(ConsoleEvent,))
    ConsoleWatch(console, bus, "compute1").watch({"uuid": "u1"})
    ConsoleWatch(console, None, "compute1").watch({"uuid": "u1"})
    assert console.reads == 0
    assert watch_threads() == []
