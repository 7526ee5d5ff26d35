"""Volumes and snapshots in JSON, as cinder writes them at microversion 3.0."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labcloud.volume.models import Snapshot, Volume


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000")


def volume(v: Volume, base: str, admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": stamp(v.created_at),
        "updated_at": stamp(v.updated_at),
        "attachments": v.attachments,
        "bootable": "true" if v.bootable else "false",
        "encrypted": False,
        "multiattach": False,
        "volume_type": None,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "metadata": dict(v.volume_metadata or {}),
        "user_id": v.user_id,
        "os-vol-tenant-attr:tenant_id": v.project_id,
        "migration_status": None,
        "replication_status": None,
        "consistencygroup_id": None,
        "links": [{"rel": "self", "href": f"{base}/v3/{v.project_id}/volumes/{v.id}"}],
    }
    if v.image_metadata:
        body["volume_image_metadata"] = dict(v.image_metadata)
    if admin:
        body["os-vol-host-attr:host"] = v.host
    return body


def snapshot(s: Snapshot) -> dict[str, Any]:
    return {
        "id": s.id,
        "volume_id": s.volume_id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size,
        "metadata": dict(s.snapshot_metadata or {}),
        "created_at": stamp(s.created_at),
        "updated_at": stamp(s.updated_at),
        "os-extended-snapshot-attributes:progress": s.progress,
        "os-extended-snapshot-attributes:project_id": s.project_id,
    }
