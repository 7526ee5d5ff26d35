"""What cinder-api does for a snapshot request: check the volume, write the row, cast
``create_snapshot`` or ``delete_snapshot`` to the volume's cinder-volume (as cinder's
volume API does, without the scheduler)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.volume.frontend import InvalidVolume, VolumeFrontend
from labcloud.volume.manager import SnapshotNotFound, now, set_snapshot
from labcloud.volume.models import Snapshot
from labcloud.volume.rpcapi import VolumeAPI
from labcloud.volume.schemas import SnapshotCreate, SnapshotUpdate


class InvalidSnapshot(InvalidVolume):
    msg_fmt = "Invalid snapshot: %(reason)s"


class SnapshotFrontend:
    def __init__(self, db: Database, volumes: VolumeAPI, frontend: VolumeFrontend) -> None:
        self.db = db
        self.volumes = volumes
        self.frontend = frontend

    def get(self, ctxt: RequestContext, snapshot_id: str) -> Snapshot:
        with self.db.reader() as s:
            snap = s.get(Snapshot, snapshot_id)
        target = {"project_id": snap.project_id if snap else None}
        if snap is None or not policy.authorize(ctxt, "owner", target, fatal=False):
            raise SnapshotNotFound(snapshot_id=snapshot_id)
        return snap

    def list(self, ctxt: RequestContext, all_tenants: bool = False) -> list[Snapshot]:
        query = select(Snapshot).order_by(Snapshot.created_at, Snapshot.id)
        if not (all_tenants and ctxt.is_admin):
            query = query.where(Snapshot.project_id == ctxt.project_id)
        with self.db.reader() as s:
            return list(s.scalars(query))

    def create(self, ctxt: RequestContext, spec: SnapshotCreate) -> Snapshot:
        vol = self.frontend.get(ctxt, spec.volume_id)
        allowed = ("available", "in-use") if spec.force else ("available",)
        if vol.status not in allowed or vol.host is None:
            raise InvalidVolume(
                reason=f"Volume {vol.id} status must be {' or '.join(allowed)}, "
                f"but current status is: {vol.status}."
            )
        self.frontend.quota.check(ctxt.project_id or "", "snapshots", vol.size)
        snap = Snapshot(
            id=str(uuid.uuid4()),
            volume_id=vol.id,
            project_id=ctxt.project_id or "",
            user_id=ctxt.user_id or "",
            name=spec.name or "",
            description=spec.description or "",
            size=vol.size,
            snapshot_metadata=dict(spec.metadata or {}),
            created_at=now(),
            updated_at=now(),
        )
        with self.db.session() as s:
            s.add(snap)
        self.volumes.create_snapshot(ctxt, vol.host, {"id": snap.id, "volume_id": vol.id})
        return snap

    def update(self, ctxt: RequestContext, snapshot_id: str, changes: SnapshotUpdate) -> Snapshot:
        self.get(ctxt, snapshot_id)
        set_snapshot(self.db, snapshot_id, **changes.model_dump(exclude_none=True))
        return self.get(ctxt, snapshot_id)

    def delete(self, ctxt: RequestContext, snapshot_id: str) -> None:
        snap = self.get(ctxt, snapshot_id)
        if snap.status not in ("available", "error"):
            raise InvalidSnapshot(
                reason=f"Snapshot status must be available or error, not {snap.status}."
            )
        vol = self.frontend.get(ctxt, snap.volume_id)
        set_snapshot(self.db, snapshot_id, status="deleting")
        if vol.host is not None:
            self.volumes.delete_snapshot(ctxt, vol.host, snapshot_id)
