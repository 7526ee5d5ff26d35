"""The volume service as a cloud runs it: cinder-api's app, and the cinder-scheduler and
cinder-volume RPC servers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from labcloud.db import Database
from labcloud.messaging import RPCServer, Target, Transport
from labcloud.rest.auth import TokenValidator
from labcloud.volume.api import create_volume_app
from labcloud.volume.driver import FileDriver, VolumeDriver
from labcloud.volume.manager import CinderSchedulerManager, VolumeManager
from labcloud.volume.models import Base
from labcloud.volume.rpcapi import SchedulerAPI, VolumeAPI


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
    ) -> None:
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.transport = transport
        self.validator = validator
        self.host = f"{host}@file"
        self.driver: VolumeDriver = driver or FileDriver(data_dir)
        self._servers: list[RPCServer] = []

    def create_app(self) -> FastAPI:
        return create_volume_app(
            self.db,
            SchedulerAPI(self.transport),
            VolumeAPI(self.transport, service="cinder-api"),
            self.validator,
        )

    def start(self) -> None:
        scheduler = CinderSchedulerManager(
            self.db, VolumeAPI(self.transport, service="cinder-scheduler"), [self.host]
        )
        for target, endpoint, service in (
            (
                Target("cinder", "cinder-scheduler", server="scheduler"),
                scheduler,
                "cinder-scheduler",
            ),
            (
                Target("cinder", "cinder-volume", server=self.host),
                VolumeManager(self.host, self.db, self.driver),
                "cinder-volume",
            ),
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
        self.db.dispose()
