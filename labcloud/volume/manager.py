"""cinder-scheduler and cinder-volume: the RPC endpoints behind the two topics.

cinder-scheduler picks a backend host for a new volume and casts ``create_volume`` to
``cinder-volume.<host>``; cinder-volume drives its storage driver and records the outcome.
A driver failure ends in ``error`` (or ``error_deleting``), never stuck in ``creating``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import NotFound
from labcloud.volume.driver import VolumeDriver
from labcloud.volume.models import Volume
from labcloud.volume.rpcapi import VolumeAPI

LOG = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class VolumeNotFound(NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."


def set_status(db: Database, volume_id: str, **values: Any) -> dict[str, Any] | None:
    with db.session() as s:
        vol = s.get(Volume, volume_id)
        if vol is None:
            return None
        for key, value in values.items():
            setattr(vol, key, value)
        vol.updated_at = now()
        return {c.name: getattr(vol, c.name) for c in Volume.__table__.columns}


class CinderSchedulerManager:
    """Places volumes on the backends it knows (one per cinder-volume service)."""

    def __init__(self, db: Database, volume_api: VolumeAPI, backends: list[str]) -> None:
        self.db = db
        self.volume_api = volume_api
        self.backends = backends

    def create_volume(self, ctxt: RequestContext, volume: dict[str, Any]) -> None:
        if not self.backends:
            set_status(self.db, volume["id"], status="error")
            LOG.warning("no cinder-volume backend for volume %s", volume["id"])
            return
        host = self.backends[hash(volume["id"]) % len(self.backends)]
        set_status(self.db, volume["id"], host=host)
        self.volume_api.create_volume(ctxt, host, volume)


class VolumeManager:
    """cinder-volume on one backend host."""

    def __init__(self, host: str, db: Database, driver: VolumeDriver) -> None:
        self.host = host
        self.db = db
        self.driver = driver

    def create_volume(self, ctxt: RequestContext, volume: dict[str, Any]) -> None:
        try:
            self.driver.create_volume(volume["id"], int(volume["size"]))
        except Exception:
            LOG.exception("creating volume %s failed on %s", volume["id"], self.host)
            set_status(self.db, volume["id"], status="error")
            return
        set_status(self.db, volume["id"], status="available")

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

    def initialize_connection(
        self, ctxt: RequestContext, volume_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        return self.driver.initialize_connection(volume_id, connector)

    def terminate_connection(
        self, ctxt: RequestContext, volume_id: str, connector: dict[str, Any]
    ) -> None:
        self.driver.terminate_connection(volume_id, connector)
