"""Servers and flavors in JSON, with the field names of nova's API samples (microversion 2.1)."""

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


def server(base: str, inst: dict[str, Any], fault: dict[str, Any] | None) -> dict[str, Any]:
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
        "OS-EXT-SRV-ATTR:host": inst["host"],
        "OS-EXT-SRV-ATTR:hypervisor_hostname": inst["node"],
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst['uuid'][:8]}",
        "OS-EXT-STS:vm_state": inst["vm_state"],
        "OS-EXT-STS:task_state": inst["task_state"],
        "OS-EXT-STS:power_state": int(PowerState(inst["power_state"])),
        "os-extended-volumes:volumes_attached": [
            {"id": d["volume_id"]} for d in inst["block_devices"]
        ],
        "security_groups": [{"name": "default"}],
    }
    if fault and inst["status"] == "ERROR":
        body["fault"] = fault
    return body


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
