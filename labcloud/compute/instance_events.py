"""nova-compute waiting for what neutron says about an instance's ports (nova's
``InstanceEvents`` and ``ComputeVirtAPI.wait_for_instance_event``).

A build registers a waiter for ``network-vif-plugged`` of each port that neutron returned not
yet ACTIVE, before anything plugs it (the waiter is there before the event can be), and waits
after the hypervisor spawned the guest, up to ``[DEFAULT] vif_plugging_timeout``. The event
comes back through nova-api (``POST /os-server-external-events``) and an
``external_instance_event`` cast to this host, which pops the waiter. A port neutron already
showed ACTIVE is not waited for, as nova's libvirt driver does (``vif['active']``). When the
wait runs out (or neutron says ``failed``) and ``vif_plugging_is_fatal``, the build fails with
nova's VirtualInterfaceCreateException; otherwise it goes on. As in nova, a build that
waits spawns the guest paused and resumes it once the wait is over (build.py), and a guest
nothing is waited for starts at once.

Where labcloud departs from nova: its no-op L2 agent "plugs" a port as soon as it is bound,
so neutron's event can reach this host before the build registered its waiter (in nova the
tap only exists once the guest is created, after the waiter). Such an early
network-vif-plugged is traced as ``unexpected``, as nova logs it, but kept for a minute, and
the waiter registered afterwards finds it instead of waiting out the timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cachetools import TTLCache

from labcloud.exceptions import LabCloudError
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import ExternalEvent

LOG = logging.getLogger(__name__)
VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"
NETWORK_CHANGED = "network-changed"
VIF_PLUGGING_TIMEOUT = 300.0  # nova's [DEFAULT] vif_plugging_timeout
EARLY_TTL, EARLY_KEPT = 60.0, 10_000  # s an early network-vif-plugged is kept; how many at most


class VirtualInterfaceCreateException(LabCloudError):
    msg_fmt = "Virtual Interface creation failed"


@dataclass
class Waiter:
    """One awaited event: set once it came (``status``), or was given up (``cancelled``)."""

    name: str
    tag: str
    done: threading.Event = field(default_factory=threading.Event)
    status: str = ""
    cancelled: bool = False


class InstanceEvents:
    """Who on this host waits for which event of which instance: ``{uuid: {(name, tag)}}``."""

    def __init__(self, bus: TraceBus | None = None, host: str = "") -> None:
        self.bus, self.host = bus, host
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[tuple[str, str], Waiter]] = {}
        # events that came before their waiter (uuid, name, tag) → status, kept a while
        self._early: TTLCache[tuple[str, str, str], str] = TTLCache(EARLY_KEPT, EARLY_TTL)

    def prepare(self, uuid: str, name: str, tag: str) -> Waiter:
        """A waiter for the event; one that already came (``early``) is done at once."""
        with self._lock:
            waiter = Waiter(name, tag)
            status = self._early.pop((uuid, name, tag), None)
            if status is not None:
                waiter.status = status
                waiter.done.set()
            else:
                self._waiting.setdefault(uuid, {})[(name, tag)] = waiter
            return waiter

    def pop(self, uuid: str, name: str, tag: str) -> Waiter | None:
        with self._lock:
            waiters = self._waiting.get(uuid, {})
            waiter = waiters.pop((name, tag), None)
            if not waiters:
                self._waiting.pop(uuid, None)
            return waiter

    def clear(self, uuid: str) -> None:
        """Stop waiting for the instance's events (it is being deleted): its build goes on."""
        with self._lock:
            waiters = self._waiting.pop(uuid, {})
            for key in [k for k in self._early if k[0] == uuid]:
                self._early.pop(key, None)
        for waiter in waiters.values():
            waiter.cancelled = True
            waiter.done.set()

    def deliver(
        self, uuid: str, name: str, tag: str, status: str, *, sender: str = "", request_id: str = ""
    ) -> bool:
        """Hand an event to its waiter (nova's ``_process_instance_event``); an event nobody
        waits for is logged and traced as ``unexpected``, as nova logs it. True if awaited."""
        with self._lock:
            waiters = self._waiting.get(uuid, {})
            waiter = waiters.pop((name, tag), None)
            if not waiters:
                self._waiting.pop(uuid, None)
            if waiter is None and name == VIF_PLUGGED:
                self._early[(uuid, name, tag)] = status
        if waiter is not None:
            waiter.status = status
            waiter.done.set()
        else:
            LOG.info("received unexpected event %s-%s for instance %s", name, tag, uuid)
        self.trace(
            "received" if waiter else "unexpected", uuid, name, tag, status, sender, request_id
        )
        return waiter is not None

    def trace(
        self,
        event: str,
        uuid: str,
        name: str,
        tag: str,
        status: str = "",
        sender: str = "",
        request_id: str = "",
        waited: float = 0.0,
    ) -> None:
        if self.bus is not None and self.bus.wants(ExternalEvent):
            self.bus.emit(
                ExternalEvent(
                    event=event,
                    name=name,
                    tag=tag,
                    instance_uuid=uuid,
                    status=status,
                    sender=sender,
                    waited=waited,
                    request_id=request_id,
                    host=self.host,
                )
            )

    @contextmanager
    def wait_for(self, uuid: str, timeout: float, *, fatal: bool = True) -> Iterator[VifWait]:
        """Register waiters inside the block (``expect``), wait for them when it ends; an
        error in the block forgets them. ``timeout`` 0: nothing is waited for."""
        wait = VifWait(self, uuid, timeout)
        try:
            yield wait
        except BaseException:
            self.clear(uuid)
            raise
        wait.finish(fatal)


class VifWait:
    """The events one build waits for."""

    def __init__(self, events: InstanceEvents, uuid: str, timeout: float) -> None:
        self.events, self.uuid, self.timeout = events, uuid, timeout
        self.waiters: list[Waiter] = []

    def expect(self, port_id: str) -> None:
        if self.timeout > 0:
            self.waiters.append(self.events.prepare(self.uuid, VIF_PLUGGED, port_id))

    @property
    def waits(self) -> bool:
        """Does the build wait for an event (so the guest is spawned paused)?"""
        return bool(self.waiters)

    def finish(self, fatal: bool) -> None:
        """Wait for each event until the deadline; whatever happens, nothing stays registered."""
        start = time.monotonic()
        try:
            for waiter in self.waiters:
                if waiter.done.wait(max(0.0, start + self.timeout - time.monotonic())):
                    if waiter.status == "failed" and fatal:  # nova's _neutron_failed_callback
                        raise VirtualInterfaceCreateException()
                    continue
                waited = round(time.monotonic() - start, 3)
                self.events.trace("timed-out", self.uuid, waiter.name, waiter.tag, waited=waited)
                LOG.warning("timeout waiting for %s-%s of %s", waiter.name, waiter.tag, self.uuid)
                if fatal:
                    raise VirtualInterfaceCreateException()
        finally:
            for waiter in self.waiters:
                self.events.pop(self.uuid, waiter.name, waiter.tag)
