"""cinder-api, cinder-scheduler and cinder-volume, one binary each, over cinder's database.

labcloud's cinder-scheduler knows its backends from the file (the host's ``@file``
backend), where cinder's learns them from the volume services' reports. cinder-api and
cinder-volume reach glance at keystone's catalog URL.
"""

from __future__ import annotations

from pathlib import Path

from labcloud.binaries.base import Binary, catalog, validator
from labcloud.conf.options import ServiceConf
from labcloud.db import Database
from labcloud.messaging import Target
from labcloud.rest.client import ServiceClient
from labcloud.volume.api import create_volume_app
from labcloud.volume.clients import GlanceClient
from labcloud.volume.driver import FileDriver
from labcloud.volume.frontend import VolumeFrontend
from labcloud.volume.manager import CinderSchedulerManager, VolumeManager
from labcloud.volume.models import Base
from labcloud.volume.rpcapi import SchedulerAPI, VolumeAPI
from labcloud.volume.snapshots import SnapshotFrontend


def _db(binary: Binary) -> Database:
    db = Database(binary.conf.database_url, Base.metadata)
    binary.part(lambda: None, db.dispose)
    return db


def _glance(binary: Binary) -> GlanceClient:
    """glance at the catalog's URL (waits for keystone)."""
    http = ServiceClient(
        catalog(binary.conf, binary.name)["image"],
        source=binary.name,
        target="glance-api",
        bus=binary.bus,
        origin=binary.origin,
    )
    binary.part(lambda: None, http.close)
    return GlanceClient(http)


def backend(conf: ServiceConf) -> str:
    return f"{conf.DEFAULT.host}@file"


def cinder_api(conf: ServiceConf) -> Binary:
    binary = Binary("cinder-api", conf)
    db = _db(binary)
    volumes = VolumeAPI(binary.transport, service=binary.name)
    frontend = VolumeFrontend(db, SchedulerAPI(binary.transport), volumes, _glance(binary))
    app = create_volume_app(
        frontend,
        SnapshotFrontend(db, volumes, frontend),
        validator(conf, binary.name, binary.bus),
    )
    binary.http(app)
    return binary


def cinder_scheduler(conf: ServiceConf) -> Binary:
    binary = Binary("cinder-scheduler", conf)
    manager = CinderSchedulerManager(
        _db(binary), VolumeAPI(binary.transport, service=binary.name), [backend(conf)]
    )
    binary.rpc(Target("cinder", "cinder-scheduler", server=conf.DEFAULT.host), manager)
    return binary


def cinder_volume(conf: ServiceConf) -> Binary:
    binary = Binary("cinder-volume", conf)
    data = Path(conf.DEFAULT.volumes_dir or conf.DEFAULT.state_path / "volumes")
    manager = VolumeManager(backend(conf), _db(binary), FileDriver(data), _glance(binary))
    binary.rpc(Target("cinder", "cinder-volume", server=backend(conf)), manager)
    return binary
