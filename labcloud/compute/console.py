"""labcloud's console watch on a compute host: after a spawn, read the guest's serial console
(the driver's ``get_console_output``, what ``openstack console log show`` prints) until the
guest's boot marker is there or a deadline passes, and report that line as a ConsoleEvent.

This is labcloud's observability, not nova's: nova-compute spawns and goes on, and reads a
console only when a user asks for it. So the watch never holds the build up (it has its own
thread per guest), ends when the instance is deleted or nova-compute stops (joined, so no
thread outlives it), and reports only what it read, when it read it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from labcloud.compute.virt.driver import InstanceNotOnHypervisor
from labcloud.exceptions import LabCloudError
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import ConsoleEvent

LOG = logging.getLogger(__name__)
POLL = 0.2  # s between reads: QEMU appends to a file, which has no event to wait on
DEADLINE = 120.0  # s after spawn: the tiny guest needs about 5 under TCG, a busy host more
JOIN = 10.0  # s a stopping watch may take to finish its read


class ConsoleSource(Protocol):
    """What the watch reads: a hypervisor driver (driver.py) has both."""

    @property
    def boot_marker(self) -> str | None: ...

    def get_console_output(self, instance: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class _Watch:
    thread: threading.Thread
    stop: threading.Event


class ConsoleWatch:
    """One host's watches, one thread per guest being watched; ``stop()`` ends them all."""

    def __init__(
        self,
        source: ConsoleSource,
        bus: TraceBus | None,
        host: str,
        *,
        poll: float = POLL,
        deadline: float = DEADLINE,
    ) -> None:
        self.source, self.bus, self.host = source, bus, host
        self.poll, self.deadline = poll, deadline
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}

    def watch(self, instance: dict[str, Any], request_id: str = "") -> None:
        """Start watching a guest spawned just now; nothing when it prints no marker (the
        fake hypervisor) or nobody listens for console events."""
        marker = self.source.boot_marker
        if marker is None or self.bus is None or not self.bus.wants(ConsoleEvent):
            return
        uuid = instance["uuid"]
        self.cancel(uuid)  # a guest spawned again (a reschedule back here) is watched anew
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run,
            args=(instance, marker, request_id, stop),
            name=f"console-watch-{uuid[:8]}",
            daemon=True,
        )
        with self._lock:
            self._watches[uuid] = _Watch(thread, stop)
        thread.start()

    def watching(self) -> list[str]:
        """The uuids of the guests being watched now."""
        with self._lock:
            return list(self._watches)

    def cancel(self, uuid: str) -> None:
        """Stop watching ``uuid`` (deleted, or its build undone) and wait for the thread."""
        with self._lock:
            watch = self._watches.pop(uuid, None)
        if watch is not None:
            watch.stop.set()
            if watch.thread is not threading.current_thread():
                watch.thread.join(JOIN)

    def stop(self) -> None:
        """nova-compute stops: every watch ends, every thread is joined."""
        for uuid in self.watching():
            self.cancel(uuid)

    def _run(
        self, instance: dict[str, Any], marker: str, request_id: str, stop: threading.Event
    ) -> None:
        uuid = instance["uuid"]
        start, last = time.monotonic(), ""
        try:
            while not stop.is_set():
                try:
                    text = self.source.get_console_output(instance)
                except InstanceNotOnHypervisor:
                    return  # gone (deleted, moved away): nothing more to read
                except (LabCloudError, OSError) as exc:  # libvirt busy, the file not there yet
                    LOG.debug("console of %s not readable now: %s", uuid, exc)
                    text = ""
                lines = [line.strip() for line in text.splitlines() if line.strip()]
                found = next((line for line in lines if marker in line), None)
                last = lines[-1] if lines else last
                waited = time.monotonic() - start
                if found is not None or waited >= self.deadline:
                    self._report(uuid, found or last, marker, found is not None, waited, request_id)
                    return
                stop.wait(self.poll)
        finally:
            with self._lock:  # done: forget it, unless a newer watch of the guest took over
                if (mine := self._watches.get(uuid)) is not None and mine.stop is stop:
                    del self._watches[uuid]

    def _report(
        self, uuid: str, line: str, marker: str, seen: bool, waited: float, request_id: str
    ) -> None:
        assert self.bus is not None
        self.bus.emit(
            ConsoleEvent(
                instance_uuid=uuid,
                line=line,
                marker=marker,
                seen=seen,
                waited=round(waited, 3),
                request_id=request_id,
                host=self.host,
            )
        )
