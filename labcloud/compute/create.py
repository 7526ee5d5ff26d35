"""Creating servers: steps 6–8 of the seed, as nova-api's ``API.create`` takes them. Check
the flavor, image, key pair, metadata, quotas, networks and volumes the request names; write
the instance rows as BUILD/scheduling; cast ``schedule_and_build_instances`` to the conductor.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.policy import authorize
from labcloud.trace.flow import flow_step

if TYPE_CHECKING:
    from labcloud.compute.frontend import ComputeFrontend


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


def create_servers(
    front: ComputeFrontend,
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
        flavor = front.flavor(flavor_ref)
    except NotFound:
        raise Invalid(f"Flavor {flavor_ref} could not be found.") from None
    try:
        image = front.glance.show(ctxt, image_ref)
    except NotFound:
        raise Invalid(f"Image {image_ref} could not be found.") from None
    key = front.keypairs.get(ctxt.user_id or "", key_name) if key_name else None
    limits = front.quota.limits(ctxt.project_id or "")  # read once for both checks
    front.check_metadata(ctxt, metadata or {}, limits)
    front.quota.check(ctxt.project_id or "", flavor, count, limits)
    availability_zone, force_host = _zone_and_host(ctxt, availability_zone)
    requested = _networks(front, ctxt, networks)
    devices = [front.volume(ctxt, v) for v in volumes or []]
    bus = front.instances.bus
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
    created = front.instances.create_many(rows, ctxt)  # one transaction for all of them
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
    front.conductor.schedule_and_build_instances(ctxt, spec, uuids)
    return created


def _zone_and_host(ctxt: RequestContext, zone: str | None) -> tuple[str | None, str | None]:
    """nova's ``zone:host`` form: an admin may place an instance on a chosen host."""
    if not zone or ":" not in zone:
        return zone, None
    name, host = zone.split(":", 2)[:2]
    if host:
        authorize(ctxt, "os_compute_api:servers:create:forced_host")
    return name or None, host or None


def _networks(front: ComputeFrontend, ctxt: RequestContext, networks: Any) -> list[dict[str, Any]]:
    """nova's requested networks: each a network (maybe with a fixed IP) or a port made
    beforehand. None or ``[]`` at 2.1 means what ``auto`` means: the one network the
    project sees gets a port, as nova allocates one."""
    if networks == "none":
        return []
    if networks in ("auto", None, []):
        visible = [n for n in front.neutron.list_networks(ctxt) if not n.get("router:external")]
        if len(visible) > 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        return [{"uuid": n["id"], "name": n["name"]} for n in visible]
    result: list[dict[str, Any]] = []
    for item in networks:
        if item.get("port"):
            result.append(_requested_port(front, ctxt, item["port"], result))
            continue
        try:
            net = front.neutron.show_network(ctxt, item["uuid"])
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
    front: ComputeFrontend, ctxt: RequestContext, port_id: str, so_far: list[dict[str, Any]]
) -> dict[str, Any]:
    try:
        port = front.neutron.show_port(ctxt, port_id)
    except NotFound:
        raise Invalid(f"Port {port_id} could not be found.") from None
    if port.get("device_id") or any(r.get("port_id") == port_id for r in so_far):
        raise Conflict(f"Port {port_id} is still in use.")
    net = front.neutron.show_network(ctxt, port["network_id"])
    return {"uuid": net["id"], "name": net["name"], "port_id": port_id}
