"""What nova-api does for a request, behind its REST routes (nova's compute/api.py ``API``).

Creating a server is steps 6–8 of the seed: check the flavor, image, networks and volumes;
write the instance row as BUILD/scheduling; cast ``schedule_and_build_instances`` to the
conductor. Deleting, rebooting, stopping ... check the instance's state, set the task state
and cast to the instance's compute host.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from typing import Any

from sqlalchemy import select

from labcloud.compute import locks_tags
from labcloud.compute.clients import (
    CinderClient,
    GlanceClient,
    NeutronClient,
    connector,
    release_ports,
)
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.instance_actions import InstanceActions
from labcloud.compute.instances import Instances
from labcloud.compute.keypairs import KeyPairs
from labcloud.compute.locks_tags import check_instance_lock
from labcloud.compute.models import ComputeNode, Flavor, FlavorExtraSpec
from labcloud.compute.quotas import QuotaExceeded, Quotas
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.schemas import plain
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, InstanceNotFound, Invalid, LabCloudError, NotFound
from labcloud.policy import authorize
from labcloud.trace.flow import flow_step

LOG = logging.getLogger(__name__)

# Per-project quotas; -1 is unlimited, as in nova. nova's defaults are instances 10, cores 20,
# ram 51200 ([quota] in nova.conf); labcloud starts unlimited, because its labs and benchmark
# fill hosts on purpose, and a lab that teaches quotas sets them (frontend.quotas).
DEFAULT_QUOTAS = {"instances": -1, "cores": -1, "ram": -1}
NOVA_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200}


__all__ = ["DEFAULT_QUOTAS", "NOVA_QUOTAS", "ComputeFrontend", "QuotaExceeded"]


def sanitize_hostname(name: str) -> str:
    """nova's ``utils.sanitize_hostname``: a guest's hostname from its display name (RFC 952
    and 1123 but for the length, cut at dnsmasq's 63).

    >>> sanitize_hostname("Web Server_1.example")
    'web-server-1-example'
    """
    hostname = name.encode("latin-1", "ignore").decode("latin-1")[:63]
    hostname = re.sub(r"[^\w.-]+", "", re.sub(r"[ _.]", "-", hostname))
    return hostname.lower().strip(".-")


def hostname(display_name: str, uuid: str, count: int, index: int) -> str:
    """nova's ``_populate_instance_names``: one of several gets its index after the name."""
    made = sanitize_hostname(display_name)
    if not made:
        return f"Server-{uuid}"
    return f"{made}-{index + 1}" if count > 1 else made


class InstanceInvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


# action -> (allowed vm_states, task_state while it runs, compute method)
ACTIONS: dict[str, tuple[tuple[VmState, ...], TaskState, str]] = {
    "stop": ((VmState.ACTIVE,), TaskState.POWERING_OFF, "stop_instance"),
    "start": ((VmState.STOPPED,), TaskState.POWERING_ON, "start_instance"),
    "suspend": ((VmState.ACTIVE,), TaskState.SUSPENDING, "suspend_instance"),
    "resume": ((VmState.SUSPENDED,), TaskState.RESUMING, "resume_instance"),
}


def flavor_dict(f: Flavor, extra_specs: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "memory_mb": f.memory_mb,
        "root_gb": f.root_gb,
        "ephemeral_gb": f.ephemeral_gb,
        "swap": f.swap,
        "extra_specs": extra_specs or {},
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
        # the default quotas (nova's [quota] options); change them to teach a quota hit
        self.quotas = dict(DEFAULT_QUOTAS)
        self.keypairs = KeyPairs(instances.db)
        self.actions = InstanceActions(instances.db)

    @property
    def quota(self) -> Quotas:
        """Per-project limits and usage over the current defaults (``self.quotas``)."""
        return Quotas(self.instances, self.quotas)

    def flavors(self) -> list[dict[str, Any]]:
        with self.instances.db.reader() as s:
            specs: dict[str, dict[str, str]] = {}
            for spec in s.scalars(select(FlavorExtraSpec)):
                specs.setdefault(spec.flavor_id, {})[spec.key] = spec.value
            rows = s.scalars(select(Flavor).order_by(Flavor.memory_mb))
            return [flavor_dict(f, specs.get(f.id)) for f in rows]

    def flavor(self, flavor_id: str) -> dict[str, Any]:
        if not plain(flavor_id):
            raise NotFound(f"Flavor {flavor_id[:64]!r} could not be found.")
        with self.instances.db.reader() as s:
            row = s.get(Flavor, flavor_id) or s.scalar(
                select(Flavor).where(Flavor.name == flavor_id)
            )
            if row is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            specs = s.scalars(select(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id == row.id))
            return flavor_dict(row, {e.key: e.value for e in specs})

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
        key_name: str | None = None,
        description: str | None = None,
        user_data: str | None = None,
    ) -> list[dict[str, Any]]:
        try:
            flavor = self.flavor(flavor_ref)
        except NotFound:
            raise Invalid(f"Flavor {flavor_ref} could not be found.") from None
        try:
            image = self.glance.show(ctxt, image_ref)
        except NotFound:
            raise Invalid(f"Image {image_ref} could not be found.") from None
        key = self.keypairs.get(ctxt.user_id or "", key_name) if key_name else None
        self._check_metadata(ctxt, metadata or {})
        self.quota.check(ctxt.project_id or "", flavor, count)
        availability_zone, force_host = self._zone_and_host(ctxt, availability_zone)
        requested = self._networks(ctxt, networks)
        devices = [self._volume(ctxt, v) for v in volumes or []]
        bus = self.instances.bus
        flow_step(bus, 6, ctxt)
        rows = []
        reservation_id = "r-" + secrets.token_hex(4)  # one per request, as nova's
        properties = image.get("properties", {}) | image
        for i in range(count):
            instance_uuid = str(uuid.uuid4())
            flow_step(bus, 7, ctxt, instance_uuid=instance_uuid)
            values = {
                "uuid": instance_uuid,
                "display_name": name if count == 1 else f"{name}-{i + 1}",
                "display_description": description,
                "user_data": user_data,
                "hostname": hostname(name, instance_uuid, count, i),
                "reservation_id": reservation_id,
                "launch_index": i,
                "kernel_id": str(properties.get("kernel_id") or ""),
                "ramdisk_id": str(properties.get("ramdisk_id") or ""),
                "project_id": ctxt.project_id or "",
                "user_id": ctxt.user_id or "",
                "image_ref": image["id"],
                "flavor": flavor,
                "vm_state": VmState.BUILDING,
                "task_state": TaskState.SCHEDULING,
                "power_state": int(PowerState.NOSTATE),
                "availability_zone": availability_zone,
                "metadata_": metadata or {},
                "key_name": key["name"] if key else None,
                "key_data": key["public_key"] if key else None,
                "requested_networks": requested,
                "request_id": ctxt.request_id,
            }
            rows.append(values)
        created = self.instances.create_many(rows, ctxt)  # one transaction for all of them
        uuids = [inst["uuid"] for inst in created]
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
        for instance_uuid in uuids:
            flow_step(bus, 8, ctxt, instance_uuid=instance_uuid)
        self.conductor.schedule_and_build_instances(ctxt, spec, uuids)
        return created

    def _check_metadata(self, ctxt: RequestContext, metadata: dict[str, str]) -> None:
        allowed = self.quota.limits(ctxt.project_id or "")["metadata_items"]
        if 0 <= allowed < len(metadata):
            raise QuotaExceeded(
                resource="metadata_items", requested=len(metadata), used=0, allowed=allowed
            )

    @staticmethod
    def _zone_and_host(ctxt: RequestContext, zone: str | None) -> tuple[str | None, str | None]:
        """nova's ``zone:host`` form: an admin may place an instance on a chosen host."""
        if not zone or ":" not in zone:
            return zone, None
        name, host = zone.split(":", 2)[:2]
        if host:
            authorize(ctxt, "os_compute_api:servers:create:forced_host")
        return name or None, host or None

    def _networks(self, ctxt: RequestContext, networks: Any) -> list[dict[str, Any]]:
        """nova's requested networks: each a network (maybe with a fixed IP) or a port made
        beforehand. None or ``[]`` at 2.1 means what ``auto`` means: the one network the
        project sees gets a port, as nova allocates one."""
        if networks == "none":
            return []
        if networks in ("auto", None, []):
            visible = [n for n in self.neutron.list_networks(ctxt) if not n.get("router:external")]
            if len(visible) > 1:
                raise Conflict(
                    "Multiple possible networks found, use a Network ID to be more specific."
                )
            return [{"uuid": n["id"], "name": n["name"]} for n in visible]
        result: list[dict[str, Any]] = []
        for item in networks:
            if item.get("port"):
                result.append(self._requested_port(ctxt, item["port"], result))
                continue
            try:
                net = self.neutron.show_network(ctxt, item["uuid"])
            except NotFound:
                raise Invalid(f"Network {item['uuid']} could not be found.") from None
            wanted = {"uuid": net["id"], "name": net["name"]}
            if item.get("fixed_ip"):
                if any(r.get("fixed_ip") == item["fixed_ip"] for r in result):
                    raise Invalid(f"Invalid fixed IP address ({item['fixed_ip']}): given twice")
                wanted["fixed_ip"] = item["fixed_ip"]
            result.append(wanted)
        return result

    def _requested_port(
        self, ctxt: RequestContext, port_id: str, so_far: list[dict[str, Any]]
    ) -> dict[str, Any]:
        try:
            port = self.neutron.show_port(ctxt, port_id)
        except NotFound:
            raise Invalid(f"Port {port_id} could not be found.") from None
        if port.get("device_id") or any(r.get("port_id") == port_id for r in so_far):
            raise Conflict(f"Port {port_id} is still in use.")
        net = self.neutron.show_network(ctxt, port["network_id"])
        return {"uuid": net["id"], "name": net["name"], "port_id": port_id}

    def _volume(self, ctxt: RequestContext, volume_id: str) -> dict[str, Any]:
        try:
            volume = self.cinder.get(ctxt, volume_id)
        except NotFound:
            raise Invalid(f"Volume {volume_id} could not be found.") from None
        if volume["status"] != "available":
            raise Invalid(f"Volume {volume_id} is {volume['status']}, not available.")
        return {"uuid": volume_id}

    def delete(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        if not inst["host"] or not self.host_is_up(inst["host"]):
            # never reached a host, or its nova-compute is down and would never answer:
            # nova-api deletes it itself (nova's "local delete")
            self._local_delete(ctxt, inst)
            return
        self.instances.start_action(ctxt, uuid, "delete")
        inst = self.instances.update(uuid, {"task_state": TaskState.DELETING})
        if inst["vm_state"] == VmState.RESIZED and inst["migration"]:  # as nova: confirm first
            self.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst, cast=False)
        self.compute.terminate_instance(ctxt, inst["host"], inst)

    def get(self, ctxt: RequestContext, uuid: str, *, read_deleted: bool = False) -> dict[str, Any]:
        """An instance of the caller's project (404 for another project's, as nova answers:
        an admin reads every project's, nova's default rule for a server's owner or admin)."""
        if not plain(uuid, 36):
            raise InstanceNotFound(instance_id=uuid[:64])
        project_id = None if ctxt.is_admin else ctxt.project_id
        return self.instances.get(uuid, project_id=project_id, read_deleted=read_deleted)

    def list_servers(
        self, ctxt: RequestContext, all_tenants: bool, project_id: str | None
    ) -> list[dict[str, Any]]:
        """nova's index: the caller's project; ``all_tenants`` (admin only) every project's,
        or ``project_id``'s."""
        if not all_tenants:
            return self.instances.list(ctxt.project_id or "-")
        authorize(ctxt, "os_compute_api:servers:index:get_all_tenants")
        return self.instances.list(project_id)

    def update(
        self, ctxt: RequestContext, uuid: str, name: str | None, description: Any = ...
    ) -> dict[str, Any]:
        """nova's server PUT: the name, and from 2.19 the description (None clears it)."""
        self.get(ctxt, uuid)
        changes: dict[str, Any] = {"display_name": name} if name else {}
        if description is not ...:
            changes["display_description"] = description
        return self.instances.update(uuid, changes) if changes else self.get(ctxt, uuid)

    def set_metadata(
        self, ctxt: RequestContext, uuid: str, metadata: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        """nova's server metadata: PUT replaces all, POST merges, a key's PUT sets one."""
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        merged = dict(metadata) if replace else dict(inst["metadata"]) | metadata
        self._check_metadata(ctxt, merged)
        return dict(self.instances.update(uuid, {"metadata": merged})["metadata"])

    def delete_metadata(self, ctxt: RequestContext, uuid: str, key: str) -> None:
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        if key not in inst["metadata"]:
            raise NotFound(f"Metadata item was not found: {key}")
        rest = {k: v for k, v in inst["metadata"].items() if k != key}
        self.instances.update(uuid, {"metadata": rest})

    def hypervisors(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """nova's os-hypervisors (admin only): each compute node, its capacity and usage."""
        authorize(ctxt, "os_compute_api:os-hypervisors:list")
        with self.instances.db.reader() as s:
            nodes = list(s.scalars(select(ComputeNode).order_by(ComputeNode.host)))
            return [
                {
                    "id": i,
                    "hypervisor_hostname": n.host,
                    "hypervisor_type": n.hypervisor_type,
                    "hypervisor_version": 1000,
                    "host_ip": "127.0.0.1",
                    "state": "up" if self.servicegroup.is_up(n.updated_at) else "down",
                    "status": "enabled" if n.enabled else "disabled",
                    "vcpus": n.vcpus,
                    "vcpus_used": n.vcpus_used,
                    "memory_mb": n.memory_mb,
                    "memory_mb_used": n.memory_mb_used,
                    "free_ram_mb": n.memory_mb - n.memory_mb_used,
                    "local_gb": n.local_gb,
                    "local_gb_used": n.local_gb_used,
                    "free_disk_gb": n.local_gb - n.local_gb_used,
                    "disk_available_least": n.local_gb - n.local_gb_used,
                    "running_vms": n.running_vms,
                    "current_workload": 0,
                    "cpu_info": "{}",
                    "service": {"host": n.host, "id": i, "disabled_reason": None},
                }
                for i, n in enumerate(nodes, 1)
            ]

    def availability_zones(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """nova's os-availability-zone: each zone and whether a host in it is up; the hosts
        only for admins (the ``detail`` call is admin-only in nova)."""
        with self.instances.db.reader() as s:
            nodes = list(s.scalars(select(ComputeNode).order_by(ComputeNode.host)))
        zones: dict[str, dict[str, Any]] = {}
        for n in nodes:
            up = self.servicegroup.is_up(n.updated_at)
            zone = zones.setdefault(n.availability_zone, {"available": False, "hosts": {}})
            zone["available"] = zone["available"] or (up and n.enabled)
            zone["hosts"][n.host] = {
                "nova-compute": {
                    "available": up,
                    "active": n.enabled,
                    "updated_at": n.updated_at.isoformat() if n.updated_at else None,
                }
            }
        return [
            {
                "zoneName": name,
                "zoneState": {"available": z["available"]},
                "hosts": z["hosts"] if ctxt.is_admin else None,
            }
            for name, z in sorted(zones.items())
        ]

    def services(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """nova's os-services list (admin only): each nova-compute, up or down."""
        authorize(ctxt, "os_compute_api:os-services:list")
        with self.instances.db.reader() as s:
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

    def host_statuses(self, instances: list[dict[str, Any]]) -> dict[str, str]:
        """nova's ``get_instances_host_statuses`` (2.16): UP, MAINTENANCE (its nova-compute
        disabled), UNKNOWN (no report lately), "" (no host). labcloud has no forced_down,
        nova's way to say DOWN."""
        with self.instances.db.reader() as s:
            nodes = {n.host: n for n in s.scalars(select(ComputeNode))}
        result = {}
        for inst in instances:
            node = nodes.get(inst["host"] or "")
            if node is None:
                result[inst["uuid"]] = ""
            elif not node.enabled:
                result[inst["uuid"]] = "MAINTENANCE"
            else:
                up = self.servicegroup.is_up(node.updated_at)
                result[inst["uuid"]] = "UP" if up else "UNKNOWN"
        return result

    def host_is_up(self, host: str) -> bool:
        with self.instances.db.reader() as s:
            node = s.get(ComputeNode, host)
            return node is not None and self.servicegroup.is_up(node.updated_at)

    def _local_delete(self, ctxt: RequestContext, inst: dict[str, Any]) -> None:
        """Give back what the instance holds elsewhere (ports and their addresses, volumes),
        then mark it deleted. The host's hypervisor, if it comes back, still has the domain;
        nova cleans that up at the host's start, labcloud's fake driver keeps nothing."""
        uuid = inst["uuid"]
        release_ports(self.neutron, ctxt, inst)
        for device in inst.get("block_devices") or []:
            try:
                self.cinder.detach(ctxt, device["volume_id"], connector(inst["host"] or ""))
            except LabCloudError:
                LOG.warning("detach of %s failed", device["volume_id"], exc_info=True)
        self.instances.update(
            uuid, {"vm_state": VmState.DELETED, "task_state": None, "deleted": True}
        )

    def action(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        inst = self.get(ctxt, uuid)
        allowed, task, method = ACTIONS[action]
        self._check(ctxt, inst, action, allowed)
        self.instances.start_action(ctxt, uuid, action)
        inst = self.instances.update(uuid, {"task_state": task})
        self.compute.power_action(ctxt, inst["host"], inst, method)

    def lock(self, ctxt: RequestContext, uuid: str, *, locked: bool) -> None:
        """nova's ``lock`` / ``unlock`` actions (locks_tags.py)."""
        inst = self.get(ctxt, uuid)
        (locks_tags.lock if locked else locks_tags.unlock)(self.instances, ctxt, inst)

    def console_output(self, ctxt: RequestContext, uuid: str, length: int | None) -> str:
        """nova's os-getConsoleOutput: asked of the nova-compute that runs the instance."""
        inst = self.get(ctxt, uuid)
        if not inst["host"]:
            raise Conflict(f"Instance {uuid} is not ready: it has no host yet.")
        return self.compute.get_console_output(ctxt, inst["host"], inst, length)

    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: str) -> None:
        inst = self.get(ctxt, uuid)
        self._check(ctxt, inst, "reboot", (VmState.ACTIVE, VmState.STOPPED))
        self.instances.start_action(ctxt, uuid, "reboot")
        task = TaskState.REBOOTING_HARD if reboot_type == "HARD" else TaskState.REBOOTING
        inst = self.instances.update(uuid, {"task_state": task})
        self.compute.reboot_instance(ctxt, inst["host"], inst, reboot_type)

    def resize(self, ctxt: RequestContext, uuid: str, flavor_ref: str) -> None:
        inst = self.get(ctxt, uuid)
        self._check(ctxt, inst, "resize", (VmState.ACTIVE, VmState.STOPPED))
        try:
            flavor = self.flavor(flavor_ref)
        except NotFound:
            raise Invalid(f"Unable to find flavor {flavor_ref}.") from None
        if flavor["id"] == inst["flavor"]["id"]:
            raise Invalid("When resizing, instances must change flavor!")
        self.instances.start_action(ctxt, uuid, "resize")
        self.instances.update(uuid, {"task_state": TaskState.RESIZE_PREP})
        self.conductor.migrate_server(ctxt, uuid, flavor)

    def confirm_resize(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.get(ctxt, uuid)
        self._check(ctxt, inst, "confirmResize", (VmState.RESIZED,))
        self.instances.start_action(ctxt, uuid, "confirmResize")
        self.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst)

    def revert_resize(self, ctxt: RequestContext, uuid: str) -> None:
        inst = self.get(ctxt, uuid)
        self._check(ctxt, inst, "revertResize", (VmState.RESIZED,))
        self.instances.start_action(ctxt, uuid, "revertResize")
        inst = self.instances.update(uuid, {"task_state": TaskState.RESIZE_REVERTING})
        self.compute.revert_resize(ctxt, inst["migration"]["dest_compute"], inst)

    @staticmethod
    def _check(
        ctxt: RequestContext, inst: dict[str, Any], action: str, allowed: tuple[VmState, ...]
    ) -> None:
        """The instance is not locked and is in a state that allows ``action`` (nova's
        ``check_instance_lock`` and ``check_instance_state``)."""
        check_instance_lock(ctxt, inst)
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
        inst = self.get(ctxt, uuid)
        self._check(ctxt, inst, "attach_volume", (VmState.ACTIVE, VmState.STOPPED))
        self._volume(ctxt, volume_id)
        device = device or f"/dev/vd{chr(ord('b') + len(inst['block_devices']))}"
        self.instances.start_action(ctxt, uuid, "attach_volume")
        return self.compute.attach_volume(ctxt, inst["host"], inst, volume_id, device)

    def detach_volume(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        if volume_id not in {d["volume_id"] for d in inst["block_devices"]}:
            raise NotFound(f"Volume {volume_id} is not attached to instance {uuid}.")
        self.instances.start_action(ctxt, uuid, "detach_volume")
        self.compute.detach_volume(ctxt, inst["host"], inst, volume_id)
