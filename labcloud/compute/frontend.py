"""What nova-api does for a request, behind its REST routes (nova's compute/api.py ``API``).

Creating a server is steps 6–8 of the seed: check the flavor, image, networks and volumes;
write the instance row as BUILD/scheduling; cast ``schedule_and_build_instances`` to the
conductor. Deleting, rebooting, stopping ... check the instance's state, set the task state
and cast to the instance's compute host.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from labcloud.compute.clients import CinderClient, GlanceClient, NeutronClient, connector
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.instances import Instances
from labcloud.compute.models import ComputeNode, Flavor
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Forbidden, Invalid, LabCloudError, NotFound
from labcloud.trace.flow import emit_step

LOG = logging.getLogger(__name__)

# Per-project quotas; -1 is unlimited, as in nova. nova's defaults are instances 10, cores 20,
# ram 51200 ([quota] in nova.conf); labcloud starts unlimited, because its labs and benchmark
# fill hosts on purpose, and a lab that teaches quotas sets them (frontend.quotas).
DEFAULT_QUOTAS = {"instances": -1, "cores": -1, "ram": -1}
NOVA_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200}


class QuotaExceeded(Forbidden):
    msg_fmt = (
        "Quota exceeded for %(resource)s: Requested %(requested)s, but already used "
        "%(used)s of %(allowed)s %(resource)s"
    )


class InstanceInvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


# action -> (allowed vm_states, task_state while it runs, compute method)
ACTIONS: dict[str, tuple[tuple[VmState, ...], TaskState, str]] = {
    "stop": ((VmState.ACTIVE,), TaskState.POWERING_OFF, "stop_instance"),
    "start": ((VmState.STOPPED,), TaskState.POWERING_ON, "start_instance"),
    "suspend": ((VmState.ACTIVE,), TaskState.SUSPENDING, "suspend_instance"),
    "resume": ((VmState.SUSPENDED,), TaskState.RESUMING, "resume_instance"),
}


def flavor_dict(f: Flavor) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "memory_mb": f.memory_mb,
        "root_gb": f.root_gb,
        "ephemeral_gb": f.ephemeral_gb,
        "swap": f.swap,
    }


class ComputeFrontend:
    def __init__(
        self,
        instances: Instances,
        conductor: ConductorAPI,
        compute: ComputeAPI,
        *,
        glance: GlanceClient,
        neutron: NeutronClient,
        cinder: CinderClient,
        servicegroup: ServiceGroup | None = None,
    ) -> None:
        self.instances = instances
        self.conductor, self.compute = conductor, compute
        self.servicegroup = servicegroup or ServiceGroup()
        self.glance, self.neutron, self.cinder = glance, neutron, cinder
        self.quotas = dict(DEFAULT_QUOTAS)  # per project; change it to teach a quota hit

    def flavors(self) -> list[dict[str, Any]]:
        with self.instances.db.session() as s:
            return [flavor_dict(f) for f in s.scalars(select(Flavor).order_by(Flavor.memory_mb))]

    def flavor(self, flavor_id: str) -> dict[str, Any]:
        with self.instances.db.session() as s:
            row = s.get(Flavor, flavor_id) or s.scalar(
                select(Flavor).where(Flavor.name == flavor_id)
            )
            if row is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            return flavor_dict(row)

    def create(
        self,
        ctxt: RequestContext,
        name: str,
        flavor_ref: str,
        image_ref: str,
        *,
        networks: Any = "auto",
        volumes: list[str] | None = None,
        availability_zone: str | None = None,
        metadata: dict[str, str] | None = None,
        count: int = 1,
    ) -> list[dict[str, Any]]:
        try:
            flavor = self.flavor(flavor_ref)
        except NotFound:
            raise Invalid(f"Flavor {flavor_ref} could not be found.") from None
        try:
            image = self.glance.show(ctxt, image_ref)
        except NotFound:
            raise Invalid(f"Image {image_ref} could not be found.") from None
        self._check_quota(ctxt.project_id or "", flavor, count)
        availability_zone, force_host = self._zone_and_host(ctxt, availability_zone)
        requested = self._networks(ctxt, networks)
        devices = [self._volume(ctxt, v) for v in volumes or []]
        emit_step(self.instances.bus, 6, request_id=ctxt.request_id)
        created = [
            self.instances.create(
                {
                    "uuid": str(uuid.uuid4()),
                    "display_name": name if count == 1 else f"{name}-{i + 1}",
                    "project_id": ctxt.project_id or "",
                    "user_id": ctxt.user_id or "",
                    "image_ref": image["id"],
                    "flavor": flavor,
                    "vm_state": VmState.BUILDING,
                    "task_state": TaskState.SCHEDULING,
                    "power_state": int(PowerState.NOSTATE),
                    "availability_zone": availability_zone,
                    "metadata_": metadata or {},
                    "requested_networks": requested,
                    "request_id": ctxt.request_id,
                }
            )
            for i in range(count)
        ]
        uuids = [inst["uuid"] for inst in created]
        for inst in created:
            emit_step(self.instances.bus, 7, instance_uuid=inst["uuid"], request_id=ctxt.request_id)
            emit_step(self.instances.bus, 8, instance_uuid=inst["uuid"], request_id=ctxt.request_id)
        spec = {
            "instance_uuids": uuids,
            "flavor": flavor,
            "num_instances": count,
            "image_properties": image.get("properties", {})
            | {k: v for k, v in image.items() if k.startswith(("hw_", "img_"))},
            "availability_zone": availability_zone,
            "ignore_hosts": [],
            "force_hosts": [force_host] if force_host else [],
            "project_id": ctxt.project_id,
            "block_devices": devices,
        }
        self.conductor.schedule_and_build_instances(ctxt, spec, uuids)
        return created

    def _check_quota(self, project_id: str, flavor: dict[str, Any], count: int) -> None:
        """Instances, vCPUs and RAM the project would use, against its quotas (403)."""
        used = {"instances": 0, "cores": 0, "ram": 0}
        for inst in self.instances.list(project_id):  # ERROR instances count, as in nova
            used["instances"] += 1
            used["cores"] += int(inst["flavor"]["vcpus"])
            used["ram"] += int(inst["flavor"]["memory_mb"])
        wanted = {
            "instances": count,
            "cores": int(flavor["vcpus"]) * count,
            "ram": int(flavor["memory_mb"]) * count,
        }
        for resource, amount in wanted.items():
            allowed = self.quotas[resource]
            if allowed >= 0 and used[resource] + amount > allowed:
                raise QuotaExceeded(
                    resource=resource,
                    requested=amount,
                    used=used[resource],
                    allowed=allowed,
                )

    @staticmethod
    def _zone_and_host(ctxt: RequestContext, zone: str | None) -> tuple[str | None, str | None]:
        """nova's ``zone:host`` form: an admin may place an instance on a chosen host."""
        if not zone or ":" not in zone:
            return zone, None
        name, host = zone.split(":", 2)[:2]
        if host and not ctxt.is_admin:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
            )
        return name or None, host or None

    def _networks(self, ctxt: RequestContext, networks: Any) -> list[dict[str, Any]]:
        if networks == "none":
            return []
        if networks in ("auto", None):
            visible = [n for n in self.neutron.list_networks(ctxt) if not n.get("router:external")]
            if len(visible) > 1:
                raise Conflict(
                    "Multiple possible networks found, use a Network ID to be more specific."
                )
            return [{"uuid": n["id"], "name": n["name"]} for n in visible]
        result = []
        for item in networks:
            try:
                net = self.neutron.show_network(ctxt, item["uuid"])
            except NotFound:
                raise Invalid(f"Network {item['uuid']} could not be found.") from None
            result.append({"uuid": net["id"], "name": net["name"]})
        return result

    def _volume(self, ctxt: RequestContext, volume_id: str) -> dict[str, Any]:
        try:
            volume = self.cinder.get(ctxt, volume_id)
        except NotFound:
            raise Invalid(f"Volume {volume_id} could not be found.") from None
        if volume["status"] != "available":
            raise Invalid(f"Volume {volume_id} is {volume['status']}, not available.")
        return {"uuid": volume_id}

    def delete(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        if not inst["host"] or not self.host_is_up(inst["host"]):
            # never reached a host, or its nova-compute is down and would never answer:
            # nova-api deletes it itself (nova's "local delete")
            self._local_delete(ctxt, inst)
            return
        inst = self.instances.update(uuid, {"task_state": TaskState.DELETING})
        if inst["vm_state"] == VmState.RESIZED and inst["migration"]:  # as nova: confirm first
            self.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst, cast=False)
        self.compute.terminate_instance(ctxt, inst["host"], inst)

    def services(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """nova's os-services list (admin only): each nova-compute, up or down."""
        if not ctxt.is_admin:
            raise Forbidden("Policy doesn't allow os_compute_api:os-services:list to be performed.")
        with self.instances.db.session() as s:
            nodes = list(s.scalars(select(ComputeNode).order_by(ComputeNode.host)))
            return [
                {
                    "id": i,
                    "binary": "nova-compute",
                    "host": n.host,
                    "zone": n.availability_zone,
                    "status": "enabled" if n.enabled else "disabled",
                    "state": "up" if self.servicegroup.is_up(n.updated_at) else "down",
                    "updated_at": n.updated_at.isoformat() if n.updated_at else None,
                    "disabled_reason": None,
                    "forced_down": False,
                }
                for i, n in enumerate(nodes, 1)
            ]

    def host_is_up(self, host: str) -> bool:
        with self.instances.db.session() as s:
            node = s.get(ComputeNode, host)
            return node is not None and self.servicegroup.is_up(node.updated_at)

    def _local_delete(self, ctxt: RequestContext, inst: dict[str, Any]) -> None:
        """Give back what the instance holds elsewhere (ports and their addresses, volumes),
        then mark it deleted. The host's hypervisor, if it comes back, still has the domain;
        nova cleans that up at the host's start, labcloud's fake driver keeps nothing."""
        uuid = inst["uuid"]
        for port in self.neutron.list_ports(ctxt, uuid):
            self.neutron.delete_port(ctxt, port["id"])
        for device in inst.get("block_devices") or []:
            try:
                self.cinder.detach(ctxt, device["volume_id"], connector(inst["host"] or ""))
            except LabCloudError:
                LOG.warning("detach of %s failed", device["volume_id"], exc_info=True)
        self.instances.update(
            uuid, {"vm_state": VmState.DELETED, "task_state": None, "deleted": True}
        )

    def action(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        allowed, task, method = ACTIONS[action]
        self._check(inst, action, allowed)
        inst = self.instances.update(uuid, {"task_state": task})
        self.compute.power_action(ctxt, inst["host"], inst, method)

    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        self._check(inst, "reboot", (VmState.ACTIVE, VmState.STOPPED))
        task = TaskState.REBOOTING_HARD if reboot_type == "HARD" else TaskState.REBOOTING
        inst = self.instances.update(uuid, {"task_state": task})
        self.compute.reboot_instance(ctxt, inst["host"], inst, reboot_type)

    def resize(self, ctxt: RequestContext, uuid: str, flavor_ref: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        self._check(inst, "resize", (VmState.ACTIVE, VmState.STOPPED))
        try:
            flavor = self.flavor(flavor_ref)
        except NotFound:
            raise Invalid(f"Unable to find flavor {flavor_ref}.") from None
        if flavor["id"] == inst["flavor"]["id"]:
            raise Invalid("When resizing, instances must change flavor!")
        self.instances.update(uuid, {"task_state": TaskState.RESIZE_PREP})
        self.conductor.migrate_server(ctxt, uuid, flavor)

    def confirm_resize(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        self._check(inst, "confirmResize", (VmState.RESIZED,))
        self.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst)

    def revert_resize(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        self._check(inst, "revertResize", (VmState.RESIZED,))
        inst = self.instances.update(uuid, {"task_state": TaskState.RESIZE_REVERTING})
        self.compute.revert_resize(ctxt, inst["migration"]["dest_compute"], inst)

    @staticmethod
    def _check(inst: dict[str, Any], action: str, allowed: tuple[VmState, ...]) -> None:
        if inst["vm_state"] not in allowed:
            raise InstanceInvalidState(
                action=action, uuid=inst["uuid"], attr="vm_state", state=inst["vm_state"]
            )
        if inst["task_state"] is not None:
            raise InstanceInvalidState(
                action=action, uuid=inst["uuid"], attr="task_state", state=inst["task_state"]
            )

    def attach_volume(
        self, ctxt: RequestContext, uuid: str, volume_id: str, device: str | None
    ) -> dict[str, Any]:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        self._check(inst, "attach_volume", (VmState.ACTIVE, VmState.STOPPED))
        self._volume(ctxt, volume_id)
        device = device or f"/dev/vd{chr(ord('b') + len(inst['block_devices']))}"
        return self.compute.attach_volume(ctxt, inst["host"], inst, volume_id, device)

    def detach_volume(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        inst = self.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        if volume_id not in {d["volume_id"] for d in inst["block_devices"]}:
            raise NotFound(f"Volume {volume_id} is not attached to instance {uuid}.")
        self.compute.detach_volume(ctxt, inst["host"], inst, volume_id)
