"""Servers and flavors in JSON, with the field names of nova's API samples: 2.1's, plus what
each later microversion adds (the table is in compute/api/__init__.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from labcloud.compute.states import PowerState


def _iso(value: str | None) -> str | None:
    return value + "Z" if value and not value.endswith("Z") else value


def _links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"},
    ]


def addresses(instance: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    names = {n["uuid"]: n.get("name", n["uuid"]) for n in instance["requested_networks"]}
    result: dict[str, list[dict[str, Any]]] = {}
    for vif in instance["network_info"]:
        for ip in vif["fixed_ips"]:
            result.setdefault(names.get(vif["network_id"], vif["network_id"]), []).append(
                {
                    "version": 6 if ":" in ip["ip_address"] else 4,
                    "addr": ip["ip_address"],
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": vif["mac_address"],
                }
            )
    return result


Version = tuple[int, int]


def server(
    base: str,
    inst: dict[str, Any],
    fault: dict[str, Any] | None,
    *,
    admin: bool = False,
    version: Version = (2, 1),
    host_status: str | None = None,
) -> dict[str, Any]:
    """A server as nova shows it at ``version``; ``OS-EXT-SRV-ATTR:*`` (its host, hypervisor
    and domain name; from 2.3 also nova's EC2 attributes) only to admins, and ``host_status``
    (from 2.16) only where the caller passes one (admins, nova's default rule)."""
    host = inst["host"] or ""
    host_id = hashlib.sha224((inst["project_id"] + host).encode()).hexdigest() if host else ""
    body: dict[str, Any] = {
        "id": inst["uuid"],
        "name": inst["display_name"],
        "status": inst["status"],
        "tenant_id": inst["project_id"],
        "user_id": inst["user_id"],
        "metadata": inst["metadata"],
        "hostId": host_id,
        "image": {"id": inst["image_ref"], "links": _links(base, "images", inst["image_ref"])},
        "flavor": {
            "id": inst["flavor"]["id"],
            "links": _links(base, "flavors", inst["flavor"]["id"]),
        },
        "created": _iso(inst["created_at"]),
        "updated": _iso(inst["updated_at"]),
        "addresses": addresses(inst),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": _links(base, "servers", inst["uuid"]),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": inst["availability_zone"] or "nova",
        "config_drive": "",
        "key_name": inst["key_name"],
        "OS-SRV-USG:launched_at": inst["launched_at"],
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:vm_state": inst["vm_state"],
        "OS-EXT-STS:task_state": inst["task_state"],
        "OS-EXT-STS:power_state": int(PowerState(inst["power_state"])),
        "os-extended-volumes:volumes_attached": [
            _volume(d, version) for d in inst["block_devices"]
        ],
        "security_groups": [{"name": "default"}],
    }
    if admin:
        body |= _extended_attributes(inst, version)
    if fault and inst["status"] == "ERROR":
        body["fault"] = fault
    if version >= (2, 9):
        body["locked"] = inst["locked_by"] is not None
    if version >= (2, 16) and host_status is not None:
        body["host_status"] = host_status
    if version >= (2, 19):
        body["description"] = inst["display_description"]
    if version >= (2, 26):
        body["tags"] = list(inst["tags"])
    return body


def _volume(device: dict[str, Any], version: Version) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": device["volume_id"]}
    if version >= (2, 3):
        shown["delete_on_termination"] = bool(device.get("delete_on_termination"))
    return shown


def _extended_attributes(inst: dict[str, Any], version: Version) -> dict[str, Any]:
    """nova's ``OS-EXT-SRV-ATTR:*``; 2.3 added what the EC2 API needed to leave nova."""
    shown = {
        "OS-EXT-SRV-ATTR:host": inst["host"],
        "OS-EXT-SRV-ATTR:hypervisor_hostname": inst["node"],
        "OS-EXT-SRV-ATTR:instance_name": instance_name(inst),
    }
    if version >= (2, 3):
        for attr in ("reservation_id", "launch_index", "hostname", "kernel_id", "ramdisk_id"):
            shown[f"OS-EXT-SRV-ATTR:{attr}"] = inst[attr]
        shown["OS-EXT-SRV-ATTR:root_device_name"] = inst["root_device_name"]
        shown["OS-EXT-SRV-ATTR:user_data"] = inst["user_data"]
    return shown


def instance_name(inst: dict[str, Any]) -> str:
    return f"instance-{inst['uuid'][:8]}"


def flavor(base: str, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f["id"],
        "name": f["name"],
        "ram": f["memory_mb"],
        "vcpus": f["vcpus"],
        "disk": f["root_gb"],
        "OS-FLV-EXT-DATA:ephemeral": f["ephemeral_gb"],
        "swap": f["swap"] or "",
        "rxtx_factor": 1.0,
        "os-flavor-access:is_public": True,
        "OS-FLV-DISABLED:disabled": False,
        "links": _links(base, "flavors", f["id"]),
    }
