"""cinder-api, cinder-scheduler and cinder-volume, one binary each, over cinder's database.

labcloud's cinder-scheduler knows its backends from the file (the host's ``@file``
backend), where cinder's learns them from the volume services' reports. cinder-api and
cinder-volume reach glance at keystone's catalog URL. Given ``shared``, each is built over
what the in-kernel cloud shares (labcloud.binaries.shared), as nova's are.
"""

from __future__ import annotations

from pathlib import Path

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.conf.options import ServiceConf
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


def _glance(binary: Binary) -> GlanceClient | None:
    """glance at the catalog's URL (waits for keystone); None in a cloud without glance
    (no volumes from images then)."""
    url = binary.catalog().get("image")
    if url is None:
        return None
    http = ServiceClient(
        url, source=binary.name, target="glance-api", bus=binary.bus, origin=binary.origin
    )
    binary.release(http.close)
    return GlanceClient(http)


def backend(conf: ServiceConf) -> str:
    return f"{conf.DEFAULT.host}@file"


def cinder_api(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    binary = Binary("cinder-api", conf, shared=shared)
    db = binary.database(Base.metadata)
    volumes = VolumeAPI(binary.transport, service=binary.name)
    frontend = VolumeFrontend(db, SchedulerAPI(binary.transport), volumes, _glance(binary))
    app = create_volume_app(
        frontend,
        SnapshotFrontend(db, volumes, frontend),
        binary.validator(),
    )
    binary.manager = frontend
    binary.http(app)
    return binary


def cinder_scheduler(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    binary = Binary("cinder-scheduler", conf, shared=shared)
    manager = CinderSchedulerManager(
        binary.database(Base.metadata),
        VolumeAPI(binary.transport, service=binary.name),
        [backend(conf)],
    )
    binary.manager = manager
    binary.rpc(Target("cinder", "cinder-scheduler", server=conf.DEFAULT.host), manager)
    return binary


def cinder_volume(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    binary = Binary("cinder-volume", conf, shared=shared)
    data = Path(conf.DEFAULT.volumes_dir or conf.DEFAULT.state_path / "volumes")
    db = binary.database(Base.metadata)
    manager = VolumeManager(backend(conf), db, FileDriver(data), _glance(binary))
    binary.manager = manager
    binary.rpc(Target("cinder", "cinder-volume", server=backend(conf)), manager)
    return binary
