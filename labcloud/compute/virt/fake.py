"""The fake hypervisor: the reference driver. It keeps each instance's power state in memory
and obeys the contract of driver.py exactly; two knobs help teaching: ``fail_next_spawns``
makes builds fail (to watch a reschedule) and ``spawn_delay`` slows spawning down (to watch
BUILD/spawning in a flow view)."""

from __future__ import annotations

import threading
from typing import Any

from labcloud.compute.states import PowerState
from labcloud.compute.virt.driver import (
    Download,
    InstanceExists,
    InstanceInfo,
    InstanceNotOnHypervisor,
    VirtDriverError,
)
from labcloud.compute.virt.netns import NamespaceGuests


class FakeDriver:
    # No guest boots here: the console is made up when read, so there is no boot line to
    # watch for, and a flow view shows none under step 28.
    boot_marker: str | None = None

    def __init__(
        self,
        host: str,
        vcpus: int = 8,
        memory_mb: int = 16384,
        local_gb: int = 160,
        spawn_delay: float = 0.0,
        datapath_tag: str | None = None,
    ) -> None:
        """``datapath_tag``: the cloud's namespaces (labcloud.netns): each instance becomes
        a network namespace plugged into its networks, that answers ping (netns.py)."""
        self.host = host
        self.guests = NamespaceGuests(datapath_tag, host) if datapath_tag else None
        self.resources = {"vcpus": vcpus, "memory_mb": memory_mb, "local_gb": local_gb}
        self.spawn_delay = spawn_delay
        self._lock = threading.Lock()
        self._domains: dict[str, PowerState] = {}
        self._volumes: dict[str, set[str]] = {}
        self._failures: list[str] = []
        self._resize_backups: dict[str, PowerState] = {}  # source copies kept for a revert

    def fail_next_spawns(
        self, n: int = 1, reason: str = "the fake hypervisor was told to fail"
    ) -> None:
        with self._lock:
            self._failures.extend([reason] * n)

    def init_host(self) -> None:
        return None

    def get_available_resource(self) -> dict[str, Any]:
        return self.resources | {"hypervisor_type": "fake", "hypervisor_hostname": self.host}

    def spawn(
        self,
        instance: dict[str, Any],
        image_meta: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        download: Download | None = None,
        paused: bool = False,
    ) -> None:
        if self.spawn_delay:
            threading.Event().wait(self.spawn_delay)  # a deliberate, visible delay
        with self._lock:
            if self._failures:
                raise VirtDriverError(reason=self._failures.pop(0))
            if instance["uuid"] in self._domains:
                raise InstanceExists(uuid=instance["uuid"])
            self._domains[instance["uuid"]] = PowerState.PAUSED if paused else PowerState.RUNNING
        if self.guests is not None:
            self.guests.spawn(instance, network_info, paused=paused)

    def unpause(self, instance: dict[str, Any]) -> None:
        with self._lock:
            state = self._domains.get(instance["uuid"])
            if state is None:
                raise InstanceNotOnHypervisor(uuid=instance["uuid"])
            if state is not PowerState.PAUSED:
                return
            self._domains[instance["uuid"]] = PowerState.RUNNING
        if self.guests is not None:
            self.guests.boot(instance)

    def destroy(self, instance: dict[str, Any]) -> None:
        with self._lock:
            self._domains.pop(instance["uuid"], None)
            self._volumes.pop(instance["uuid"], None)  # a resize's backup copy stays
        if self.guests is not None:
            self.guests.destroy(instance)

    def _set(self, instance: dict[str, Any], state: PowerState) -> None:
        with self._lock:
            if instance["uuid"] not in self._domains:
                raise InstanceNotOnHypervisor(uuid=instance["uuid"])
            self._domains[instance["uuid"]] = state

    def reboot(self, instance: dict[str, Any], reboot_type: str) -> None:
        self._set(instance, PowerState.RUNNING)

    def power_off(self, instance: dict[str, Any]) -> None:
        self._set(instance, PowerState.SHUTDOWN)

    def power_on(self, instance: dict[str, Any]) -> None:
        self._set(instance, PowerState.RUNNING)

    def suspend(self, instance: dict[str, Any]) -> None:
        self._set(instance, PowerState.SUSPENDED)

    def resume(self, instance: dict[str, Any]) -> None:
        self._set(instance, PowerState.RUNNING)

    def migrate_disk_and_power_off(self, instance: dict[str, Any], dest: str) -> None:
        with self._lock:
            if instance["uuid"] not in self._domains:
                raise InstanceNotOnHypervisor(uuid=instance["uuid"])
            self._resize_backups[instance["uuid"]] = self._domains.pop(instance["uuid"])

    def finish_migration(
        self, instance: dict[str, Any], network_info: list[dict[str, Any]], power_on: bool
    ) -> None:
        with self._lock:
            if instance["uuid"] in self._domains:
                raise InstanceExists(uuid=instance["uuid"])
            self._domains[instance["uuid"]] = (
                PowerState.RUNNING if power_on else PowerState.SHUTDOWN
            )

    def confirm_migration(self, instance: dict[str, Any]) -> None:
        with self._lock:
            self._resize_backups.pop(instance["uuid"], None)

    def finish_revert_migration(self, instance: dict[str, Any], power_on: bool) -> None:
        with self._lock:
            if self._resize_backups.pop(instance["uuid"], None) is None:
                raise InstanceNotOnHypervisor(uuid=instance["uuid"])
            self._domains[instance["uuid"]] = (
                PowerState.RUNNING if power_on else PowerState.SHUTDOWN
            )

    def get_info(self, instance: dict[str, Any]) -> InstanceInfo:
        with self._lock:
            if instance["uuid"] not in self._domains:
                raise InstanceNotOnHypervisor(uuid=instance["uuid"])
            return InstanceInfo(self._domains[instance["uuid"]])

    def list_instances(self) -> list[str]:
        with self._lock:
            return list(self._domains)

    def get_console_output(self, instance: dict[str, Any]) -> str:
        """No guest runs here: the console says so, in the shape of a real one."""
        state = self.get_info(instance).state
        name = instance.get("display_name") or instance["uuid"]
        return f"fake-guest: {name} on {self.host}: {state.label} (no guest runs here)\n"

    def attach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        with self._lock:
            self._volumes.setdefault(instance["uuid"], set()).add(mountpoint)

    def detach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        with self._lock:
            self._volumes.get(instance["uuid"], set()).discard(mountpoint)
