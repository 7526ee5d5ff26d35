"""The volume service as a cloud runs it: cinder-api's app, and the cinder-scheduler and
cinder-volume RPC servers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from labcloud.db import Database
from labcloud.messaging import RPCServer, Target, Transport
from labcloud.rest.auth import TokenValidator
from labcloud.rest.client import ServiceClient
from labcloud.volume.api import create_volume_app
from labcloud.volume.clients import GlanceClient
from labcloud.volume.driver import FileDriver, VolumeDriver
from labcloud.volume.frontend import VolumeFrontend
from labcloud.volume.manager import CinderSchedulerManager, VolumeManager
from labcloud.volume.models import Base
from labcloud.volume.rpcapi import SchedulerAPI, VolumeAPI
from labcloud.volume.snapshots import SnapshotFrontend


class VolumeService:
    name = "cinder"
    service_type = "volumev3"

    def __init__(
        self,
        db_url: str,
        *,
        transport: Transport,
        validator: TokenValidator,
        data_dir: Path,
        host: str = "volume1",
        driver: VolumeDriver | None = None,
        image_url: str | None = None,
    ) -> None:
        """``image_url``: glance's, to make volumes from images (none: no image volumes)."""
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.transport = transport
        self.validator = validator
        self.host = f"{host}@file"
        self.driver: VolumeDriver = driver or FileDriver(data_dir)
        self.image_url = image_url
        self._servers: list[RPCServer] = []
        self._clients: list[ServiceClient] = []

    def glance(self, source: str) -> GlanceClient | None:
        if self.image_url is None:
            return None
        http = ServiceClient(
            self.image_url,
            source=source,
            target="glance-api",
            bus=self.transport.bus,
            origin=self.transport.origin,
        )
        self._clients.append(http)
        return GlanceClient(http)

    def create_app(self) -> FastAPI:
        volumes = VolumeAPI(self.transport, service="cinder-api")
        frontend = VolumeFrontend(
            self.db, SchedulerAPI(self.transport), volumes, self.glance("cinder-api")
        )
        return create_volume_app(
            frontend, SnapshotFrontend(self.db, volumes, frontend), self.validator
        )

    def start(self) -> None:
        scheduler = CinderSchedulerManager(
            self.db, VolumeAPI(self.transport, service="cinder-scheduler"), [self.host]
        )
        volume = VolumeManager(self.host, self.db, self.driver, self.glance("cinder-volume"))
        for target, endpoint, service in (
            (
                Target("cinder", "cinder-scheduler", server="scheduler"),
                scheduler,
                "cinder-scheduler",
            ),
            (Target("cinder", "cinder-volume", server=self.host), volume, "cinder-volume"),
        ):
            server = RPCServer(self.transport, target, [endpoint], service=service)
            server.start()
            self._servers.append(server)

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers.clear()
        for client in self._clients:
            client.close()
        self._clients.clear()
        self.db.dispose()
