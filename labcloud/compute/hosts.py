"""nova-api's views of the compute hosts: os-hypervisors, os-availability-zone, os-services,
and each instance's host status (2.16), from the compute nodes' rows and their last report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labcloud.compute.models import ComputeNode
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.policy import authorize


class HostsView:
    def __init__(self, db: Database, servicegroup: ServiceGroup) -> None:
        self.db = db
        self.servicegroup = servicegroup

    def hypervisors(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """nova's os-hypervisors (admin only): each compute node, its capacity and usage."""
        authorize(ctxt, "os_compute_api:os-hypervisors:list")
        with self.db.reader() as s:
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
        with self.db.reader() as s:
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
        with self.db.reader() as s:
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
        with self.db.reader() as s:
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
        with self.db.reader() as s:
            node = s.get(ComputeNode, host)
            return node is not None and self.servicegroup.is_up(node.updated_at)
