"""The interface between nova-compute and a hypervisor. Instances arrive as plain dicts
(uuid, display_name, flavor {vcpus, memory_mb, root_gb}); drivers know no database and no
message bus."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from labcloud.compute.states import PowerState
from labcloud.exceptions import LabCloudError, NotFound

Download = Callable[[str], Iterable[bytes]]  # image id -> its data, chunk by chunk


class VirtDriverError(LabCloudError):
    msg_fmt = "The hypervisor failed: %(reason)s"


class InstanceNotOnHypervisor(NotFound):
    msg_fmt = "Instance %(uuid)s is not on this hypervisor."


class InstanceExists(VirtDriverError):
    msg_fmt = "Instance %(uuid)s already exists on this hypervisor."


@dataclass(frozen=True)
class InstanceInfo:
    state: PowerState


class ComputeDriver(Protocol):
    @property
    def boot_marker(self) -> str | None:
        """The console line this hypervisor's guests print once booted (labcloud's tiny
        image's), which labcloud's console watch looks for; None: no guest boots here."""

    def init_host(self) -> None:
        """Get ready to serve (connect to the hypervisor)."""

    def get_available_resource(self) -> dict[str, Any]:
        """vcpus, memory_mb, local_gb, hypervisor_type, hypervisor_hostname."""

    def spawn(
        self,
        instance: dict[str, Any],
        image_meta: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        download: Download | None = None,
        paused: bool = False,
    ) -> None:
        """Create and start the instance; raise a LabCloudError when it cannot.
        ``download``: image id -> its data from glance, with the requesting user's token
        (nova-compute fetches an image it has not cached, as nova's image backend does);
        ``paused``: create it with its NICs but let no guest code run (PAUSED) until
        ``unpause``, as nova's libvirt driver does while it waits for network-vif-plugged."""

    def unpause(self, instance: dict[str, Any]) -> None:
        """Let a paused instance run (RUNNING); nothing happens if it is not paused, and
        InstanceNotOnHypervisor when it is not here."""

    def destroy(self, instance: dict[str, Any]) -> None:
        """Stop and remove the instance; nothing happens if it is not there."""

    def reboot(self, instance: dict[str, Any], reboot_type: str) -> None:
        """Restart it ("SOFT" asks the guest, "HARD" resets)."""

    def power_off(self, instance: dict[str, Any]) -> None: ...

    def power_on(self, instance: dict[str, Any]) -> None: ...

    def suspend(self, instance: dict[str, Any]) -> None: ...

    def resume(self, instance: dict[str, Any]) -> None: ...

    # -- resize: the source powers off and hands the disk over, the destination starts the
    # instance with its new flavor; confirm throws the old copy away, revert brings it back.
    def migrate_disk_and_power_off(self, instance: dict[str, Any], dest: str) -> None:
        """On the source host: stop the instance and keep its disk aside for a revert."""

    def finish_migration(
        self, instance: dict[str, Any], network_info: list[dict[str, Any]], power_on: bool
    ) -> None:
        """On the destination host: create the instance with ``instance["flavor"]``."""

    def confirm_migration(self, instance: dict[str, Any]) -> None:
        """On the source host: delete the copy kept aside by migrate_disk_and_power_off."""

    def finish_revert_migration(self, instance: dict[str, Any], power_on: bool) -> None:
        """On the source host: bring back the copy kept aside, with its old flavor."""

    def get_info(self, instance: dict[str, Any]) -> InstanceInfo:
        """Its power state; InstanceNotOnHypervisor when it is not here."""

    def list_instances(self) -> list[str]:
        """The uuids of the instances on this hypervisor."""

    def get_console_output(self, instance: dict[str, Any]) -> str:
        """The tail of its serial console (``openstack console log show``)."""

    def attach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None: ...

    def detach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None: ...
