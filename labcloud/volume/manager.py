"""cinder-scheduler and cinder-volume: the RPC endpoints behind the two topics.

cinder-scheduler picks a backend host for a new volume and casts ``create_volume`` to
``cinder-volume.<host>``; a volume made from a snapshot goes to the snapshot's backend, as
cinder's scheduler sends it. cinder-volume drives its storage driver (a blank volume, a
copy of a snapshot, then an image's data from glance) and records the outcome. A driver
failure ends in ``error`` (or ``error_deleting``), never stuck in ``creating``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import NotFound
from labcloud.volume.clients import GlanceClient
from labcloud.volume.driver import VolumeDriver
from labcloud.volume.models import Snapshot, Volume
from labcloud.volume.rpcapi import VolumeAPI

LOG = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class VolumeNotFound(NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."


class SnapshotNotFound(NotFound):
    msg_fmt = "Snapshot %(snapshot_id)s could not be found."


def set_status(db: Database, volume_id: str, **values: Any) -> dict[str, Any] | None:
    return _update(db, Volume, volume_id, values)


def set_snapshot(db: Database, snapshot_id: str, **values: Any) -> dict[str, Any] | None:
    return _update(db, Snapshot, snapshot_id, values)


def _update(
    db: Database, model: type[Volume] | type[Snapshot], row_id: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    with db.session() as s:
        row: Any = s.get(model, row_id)
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now()
        return {c.name: getattr(row, c.name) for c in model.__table__.columns}


class CinderSchedulerManager:
    """Places volumes on the backends it knows (one per cinder-volume service)."""

    def __init__(self, db: Database, volume_api: VolumeAPI, backends: list[str]) -> None:
        self.db = db
        self.volume_api = volume_api
        self.backends = backends

    def create_volume(self, ctxt: RequestContext, volume: dict[str, Any]) -> None:
        host = volume.get("host")  # a snapshot's copy stays on the snapshot's backend
        if host is None and self.backends:
            host = self.backends[hash(volume["id"]) % len(self.backends)]
        if host is None:
            set_status(self.db, volume["id"], status="error")
            LOG.warning("no cinder-volume backend for volume %s", volume["id"])
            return
        set_status(self.db, volume["id"], host=host)
        self.volume_api.create_volume(ctxt, host, volume)


class VolumeManager:
    """cinder-volume on one backend host."""

    def __init__(
        self, host: str, db: Database, driver: VolumeDriver, glance: GlanceClient | None = None
    ) -> None:
        self.host = host
        self.db = db
        self.driver = driver
        self.glance = glance

    def create_volume(self, ctxt: RequestContext, volume: dict[str, Any]) -> None:
        volume_id, size = volume["id"], int(volume["size"])
        try:
            if volume.get("snapshot_id"):
                self.driver.create_volume_from_snapshot(volume_id, size, volume["snapshot_id"])
            else:
                self.driver.create_volume(volume_id, size)
            if volume.get("image_id"):
                self._copy_image(ctxt, volume_id, volume["image_id"], volume.get("disk_format"))
        except Exception:
            LOG.exception("creating volume %s failed on %s", volume_id, self.host)
            set_status(self.db, volume_id, status="error")
            return
        # a volume holding an image's data boots (cinder sets bootable after the copy)
        set_status(self.db, volume_id, status="available", bootable=bool(volume.get("image_id")))

    def _copy_image(
        self, ctxt: RequestContext, volume_id: str, image_id: str, disk_format: str | None
    ) -> None:
        if self.glance is None:
            raise RuntimeError("this cinder-volume has no glance to fetch images from")
        set_status(self.db, volume_id, status="downloading")
        self.driver.copy_image_to_volume(
            volume_id, self.glance.download(ctxt, image_id), disk_format
        )

    def delete_volume(self, ctxt: RequestContext, volume_id: str) -> None:
        try:
            self.driver.delete_volume(volume_id)
        except Exception:
            LOG.exception("deleting volume %s failed on %s", volume_id, self.host)
            set_status(self.db, volume_id, status="error_deleting")
            return
        with self.db.session() as s:
            vol = s.get(Volume, volume_id)
            if vol is not None:
                s.delete(vol)

    def create_snapshot(self, ctxt: RequestContext, snapshot: dict[str, Any]) -> None:
        try:
            self.driver.create_snapshot(snapshot["id"], snapshot["volume_id"])
        except Exception:
            LOG.exception("snapshot %s failed on %s", snapshot["id"], self.host)
            set_snapshot(self.db, snapshot["id"], status="error")
            return
        set_snapshot(self.db, snapshot["id"], status="available", progress="100%")

    def delete_snapshot(self, ctxt: RequestContext, snapshot_id: str) -> None:
        try:
            self.driver.delete_snapshot(snapshot_id)
        except Exception:
            LOG.exception("deleting snapshot %s failed on %s", snapshot_id, self.host)
            set_snapshot(self.db, snapshot_id, status="error_deleting")
            return
        with self.db.session() as s:
            snap = s.get(Snapshot, snapshot_id)
            if snap is not None:
                s.delete(snap)

    def initialize_connection(
        self, ctxt: RequestContext, volume_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        return self.driver.initialize_connection(volume_id, connector)

    def terminate_connection(
        self, ctxt: RequestContext, volume_id: str, connector: dict[str, Any]
    ) -> None:
        self.driver.terminate_connection(volume_id, connector)
