"""Resize, the nova-compute half: a move between two hosts (or within one) in four casts.

nova-conductor has already chosen the destination and written the plan into the
instance's ``migration`` (nova keeps it in a migrations row)::

    prep_resize (dest)        claim the new flavor             task resize_migrating
    resize_instance (source)  power off, set the disk aside    task resize_migrated
    finish_resize (dest)      start it with the new flavor     vm_state resized (VERIFY_RESIZE)
    confirm_resize (source)   drop the copy, free old flavor   vm_state active
    revert_resize (dest)      destroy, free the new flavor     then:
    finish_revert_resize (source)  bring back the old copy     vm_state active

A step that fails reverts what was done and leaves the instance as it was, with a fault.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from labcloud.compute import events
from labcloud.compute.events import wrap_instance_event
from labcloud.compute.resources import ComputeResourcesUnavailable, ResourceTracker
from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError

if TYPE_CHECKING:
    from labcloud.compute.clients import NeutronClient
    from labcloud.compute.conductor.rpcapi import ConductorAPI
    from labcloud.compute.rpcapi import ComputeAPI
    from labcloud.compute.virt.driver import ComputeDriver

LOG = logging.getLogger(__name__)


def _vms(migration: dict[str, Any]) -> int:
    """A resize within one host does not add a VM to its count."""
    return 0 if migration["source_compute"] == migration["dest_compute"] else 1


class Resizer:
    """The resize steps of one nova-compute host; its manager delegates its resize RPC
    methods here (nova keeps them in its ComputeManager)."""

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        conductor: ConductorAPI,
        compute: ComputeAPI | None,
        neutron: NeutronClient,
        resources: ResourceTracker,
    ) -> None:
        self.host, self.driver, self.conductor = host, driver, conductor
        self.compute = compute  # to other nova-computes; None: this host only
        self.neutron, self.resources = neutron, resources

    def _update(self, ctxt: RequestContext, uuid: str, **updates: Any) -> dict[str, Any]:
        return self.conductor.instance_update(ctxt, uuid, **updates)

    def _peers(self) -> ComputeAPI:
        if self.compute is None:
            raise LabCloudError("this nova-compute has no RPC client for other hosts")
        return self.compute

    def _resize_failed(
        self, ctxt: RequestContext, instance: dict[str, Any], exc: LabCloudError
    ) -> None:
        LOG.warning("resize of %s failed on %s: %s", instance["uuid"], self.host, exc)
        events.failed(exc)  # the running step's event ends in Error
        self.conductor.instance_fault_create(ctxt, instance["uuid"], 500, str(exc))

    @wrap_instance_event("compute")
    def prep_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        migration = instance["migration"]
        try:
            self.resources.reserve(migration["new_flavor"], _vms(migration))
        except ComputeResourcesUnavailable as exc:
            self._resize_failed(ctxt, instance, exc)
            self._update(ctxt, instance["uuid"], task_state=None, migration=None)
            return
        self.resources.report(ctxt)
        instance = self._update(ctxt, instance["uuid"], task_state=TaskState.RESIZE_MIGRATING)
        self._peers().resize_instance(ctxt, migration["source_compute"], instance)

    @wrap_instance_event("compute")
    def resize_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        migration = instance["migration"]
        try:
            self.driver.migrate_disk_and_power_off(instance, migration["dest_compute"])
        except LabCloudError as exc:
            self._resize_failed(ctxt, instance, exc)
            self._peers().revert_resize(ctxt, migration["dest_compute"], instance)
            return
        migration = migration | {"status": "migrated"}
        instance = self._update(
            ctxt,
            instance["uuid"],
            task_state=TaskState.RESIZE_MIGRATED,
            power_state=int(PowerState.SHUTDOWN),
            migration=migration,
        )
        self._peers().finish_resize(ctxt, migration["dest_compute"], instance)

    @wrap_instance_event("compute")
    def finish_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        uuid, migration = instance["uuid"], instance["migration"]
        power_on = migration["old_vm_state"] != VmState.STOPPED
        if migration["source_compute"] != self.host:
            for vif in instance["network_info"]:
                self.neutron.bind_port(ctxt, vif["port_id"], self.host)
        instance = self._update(
            ctxt,
            uuid,
            task_state=TaskState.RESIZE_FINISH,
            host=self.host,
            node=self.host,
            flavor=migration["new_flavor"],
            old_flavor=instance["flavor"],
        )
        try:
            self.driver.finish_migration(instance, instance["network_info"], power_on)
        except LabCloudError as exc:
            self._resize_failed(ctxt, instance, exc)
            self._update(ctxt, uuid, vm_state=VmState.ERROR, task_state=None)
            return
        self._update(
            ctxt,
            uuid,
            vm_state=VmState.RESIZED,
            task_state=None,
            power_state=int(PowerState.RUNNING if power_on else PowerState.SHUTDOWN),
            migration=migration | {"status": "finished"},
        )

    @wrap_instance_event("compute")
    def confirm_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        """On the source: the user keeps the new flavor; free what the old one held here."""
        migration = instance["migration"]
        self.driver.confirm_migration(instance)
        self.resources.release(ctxt, instance["old_flavor"], _vms(migration))
        updates: dict[str, Any] = {"old_flavor": None, "migration": None}
        if instance["task_state"] != TaskState.DELETING:  # a delete confirms first
            updates |= {"vm_state": migration["old_vm_state"], "task_state": None}
        self._update(ctxt, instance["uuid"], **updates)

    @wrap_instance_event("compute")
    def revert_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        """On the destination: undo what finish_resize did, then hand back to the source."""
        migration = instance["migration"]
        if migration["status"] == "finished":
            self.driver.destroy(instance)
        self.resources.release(ctxt, migration["new_flavor"], _vms(migration))
        if migration["source_compute"] != self.host:
            for vif in instance["network_info"]:
                self.neutron.bind_port(ctxt, vif["port_id"], migration["source_compute"])
        self._peers().finish_revert_resize(ctxt, migration["source_compute"], instance)

    @wrap_instance_event("compute")
    def finish_revert_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        """On the source: the instance runs here again, with its old flavor."""
        migration = instance["migration"]
        old_vm_state = migration["old_vm_state"]
        power_on = old_vm_state != VmState.STOPPED
        if migration["status"] != "pre-migrating":  # its disk was set aside: bring it back
            self.driver.finish_revert_migration(instance, power_on)
        self._update(
            ctxt,
            instance["uuid"],
            host=self.host,
            node=self.host,
            flavor=instance["old_flavor"] or instance["flavor"],
            old_flavor=None,
            migration=None,
            vm_state=old_vm_state,
            task_state=None,
            power_state=int(PowerState.RUNNING if power_on else PowerState.SHUTDOWN),
        )
