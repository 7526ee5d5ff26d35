"""Reading and changing instance rows in nova's database (used by nova-api and nova-conductor;
nova-compute never touches the database: it asks nova-conductor, as in nova)."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from labcloud.compute.models import Instance, InstanceFault
from labcloud.compute.states import status
from labcloud.db import Database
from labcloud.exceptions import InstanceNotFound
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StateEvent

STATE_FIELDS = ("vm_state", "task_state", "power_state")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def to_dict(row: Instance) -> dict[str, Any]:
    """An instance as it travels over RPC (JSON-safe)."""
    return {
        "uuid": row.uuid,
        "display_name": row.display_name,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "image_ref": row.image_ref,
        "flavor": row.flavor,
        "old_flavor": row.old_flavor,
        "migration": row.migration,
        "vm_state": row.vm_state,
        "task_state": row.task_state,
        "power_state": row.power_state,
        "host": row.host,
        "node": row.node,
        "availability_zone": row.availability_zone,
        "key_name": row.key_name,
        "metadata": row.metadata_,
        "network_info": row.network_info,
        "requested_networks": row.requested_networks,
        "request_id": row.request_id,
        "block_devices": row.block_devices,
        "launched_at": row.launched_at.isoformat() if row.launched_at else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "deleted": row.deleted,
        "status": status(row.vm_state, row.task_state),
    }


class Instances:
    """Instance rows plus the trace: every state change is a StateEvent."""

    def __init__(self, db: Database, bus: TraceBus | None, service: str) -> None:
        self.db = db
        self.bus = bus
        self.service = service

    def get(self, uuid: str, *, project_id: str | None = None) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(Instance, uuid)
            if row is None or row.deleted or (project_id and row.project_id != project_id):
                raise InstanceNotFound(instance_id=uuid)
            return to_dict(row)

    def list(self, project_id: str | None) -> list[dict[str, Any]]:
        with self.db.session() as s:
            query = select(Instance).where(Instance.deleted.is_(False))
            if project_id:
                query = query.where(Instance.project_id == project_id)
            return [to_dict(r) for r in s.scalars(query.order_by(Instance.created_at.desc()))]

    def where(
        self, *, host: str | None = None, vm_state: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Instances not deleted, on ``host`` and/or in ``vm_state``."""
        with self.db.session() as s:
            query = select(Instance).where(Instance.deleted.is_(False))
            if host is not None:
                query = query.where(Instance.host == host)
            if vm_state is not None:
                query = query.where(Instance.vm_state == vm_state)
            return [to_dict(r) for r in s.scalars(query)]

    def create(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.db.session() as s:
            row = Instance(**values, created_at=now(), updated_at=now())
            s.add(row)
            s.flush()
            result = to_dict(row)
        self._emit(result)
        return result

    def update(self, uuid: str, updates: dict[str, Any]) -> dict[str, Any]:
        """Apply ``updates``; ``expected_task_state`` guards against a concurrent change."""
        with self.db.session() as s:
            row = s.get(Instance, uuid)
            if row is None:
                raise InstanceNotFound(instance_id=uuid)
            before = tuple(getattr(row, f) for f in STATE_FIELDS)
            for key, value in updates.items():
                setattr(row, "metadata_" if key == "metadata" else key, value)
            row.updated_at = now()
            result = to_dict(row)
        if tuple(result[f] for f in STATE_FIELDS) != before:
            self._emit(result)
        return result

    def add_fault(self, uuid: str, code: int, message: str, details: str = "") -> None:
        with self.db.session() as s:
            s.add(
                InstanceFault(
                    instance_uuid=uuid,
                    code=code,
                    message=message[:255],
                    details=details,
                    created_at=now(),
                )
            )

    def fault(self, uuid: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalars(
                select(InstanceFault)
                .where(InstanceFault.instance_uuid == uuid)
                .order_by(InstanceFault.id.desc())
            ).first()
            if row is None:
                return None
            return {
                "code": row.code,
                "message": row.message,
                "details": row.details,
                "created": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }

    def _emit(self, inst: dict[str, Any]) -> None:
        if self.bus is not None and self.bus.active:
            self.bus.emit(
                StateEvent(
                    resource="instance",
                    id=inst["uuid"],
                    status=inst["status"],
                    vm_state=inst["vm_state"],
                    task_state=inst["task_state"],
                    power_state=inst["power_state"],
                    service=self.service,
                    request_id=inst["request_id"],
                )
            )
