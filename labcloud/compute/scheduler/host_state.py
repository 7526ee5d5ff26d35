"""What the scheduler knows of each compute host, kept in memory and refreshed from reports."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from labcloud.compute.models import ComputeNode
from labcloud.compute.servicegroup import parse_time
from labcloud.db import Database


@dataclass
class HostState:
    host: str
    availability_zone: str
    hypervisor_type: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    local_gb: int
    local_gb_used: int
    num_instances: int
    enabled: bool = True
    updated_at: datetime | None = None  # the host's last report (servicegroup: up or down)

    @property
    def free_ram_mb(self) -> int:
        return self.memory_mb - self.memory_mb_used

    @property
    def free_disk_gb(self) -> int:
        return self.local_gb - self.local_gb_used

    def consume(self, flavor: dict[str, Any], sign: int = 1) -> None:
        """Count an instance placed here before the host reports it itself (``sign=-1``
        takes it back)."""
        self.vcpus_used += sign * int(flavor["vcpus"])
        self.memory_mb_used += sign * int(flavor["memory_mb"])
        self.local_gb_used += sign * int(flavor["root_gb"])
        self.num_instances += sign

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> HostState:
        return cls(
            host=row["host"],
            availability_zone=row.get("availability_zone") or "nova",
            hypervisor_type=row.get("hypervisor_type") or "fake",
            vcpus=row["vcpus"],
            vcpus_used=row.get("vcpus_used") or 0,
            memory_mb=row["memory_mb"],
            memory_mb_used=row.get("memory_mb_used") or 0,
            local_gb=row["local_gb"],
            local_gb_used=row.get("local_gb_used") or 0,
            num_instances=row.get("running_vms") or 0,
            enabled=row.get("enabled") is not False,  # None (unknown) is not "disabled"
            updated_at=parse_time(row.get("updated_at")),
        )


class HostManager:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._hosts: dict[str, HostState] = {}

    def refresh(self) -> None:
        """Reload every host from the compute_nodes table."""
        with self.db.reader() as s:
            rows = [
                {c.name: getattr(n, c.name) for c in ComputeNode.__table__.columns}
                for n in s.scalars(select(ComputeNode))
            ]
        with self._lock:
            self._hosts = {r["host"]: HostState.from_row(r) for r in rows}

    def update_host(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._hosts[row["host"]] = HostState.from_row(row)

    def get_all(self) -> list[HostState]:
        with self._lock:
            return list(self._hosts.values())
