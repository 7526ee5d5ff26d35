"""cinder over real HTTP and memory:// RPC, with tokens from a real identity service: its
three binaries built by their factories over what a cloud shares (as LabCloud builds them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.binaries.volume import cinder_api, cinder_scheduler, cinder_volume
from labcloud.conf import parse
from labcloud.db import Database
from labcloud.messaging import get_transport
from labcloud.rest.server import ApiServer
from labcloud.volume.driver import FileDriver
from labcloud.volume.manager import VolumeManager
from labcloud.volume.models import Base
from tests.conftest import Keystone


class BrokenDriver(FileDriver):
    def create_volume(self, volume_id: str, size_gb: int) -> None:
        raise OSError("the disk array is on fire")


class Cinder:
    def __init__(
        self,
        keystone: Keystone,
        data: Path,
        driver: FileDriver | None = None,
        image_url: str | None = None,
    ) -> None:
        self.transport = get_transport("memory://")
        self.data = data
        self.db = Database("sqlite://", Base.metadata)
        self.db.create_all()
        self.server = ApiServer(None, name="cinder-api")
        shared = Shared(
            self.transport,
            {"image": image_url} if image_url else {},  # no glance: no volumes from images
            dbs={"cinder": self.db},
            servers={"cinder-api": self.server},
            validator=lambda binary: keystone.validator(),  # type: ignore[arg-type,return-value]
        )
        conf = parse(f"[DEFAULT]\nhost = volume1\nvolumes_dir = {data}\n", "cinder")
        self.binaries: list[Binary] = [
            make(conf, shared=shared) for make in (cinder_api, cinder_scheduler, cinder_volume)
        ]
        volume = self.binaries[-1].manager
        assert isinstance(volume, VolumeManager)
        volume.driver = driver or volume.driver  # a broken disk array, for some tests
        for binary in self.binaries:
            binary.start()
        self.token = keystone.token("demo")
        self.project = keystone.project_id("demo")
        self.admin = keystone.token("admin", "admin")
        self.admin_project = keystone.project_id("admin")
        self.url = f"{self.server.url}/v3/{self.project}/volumes"

    def call(self, method: str, path: str = "", **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": kw.pop("token", self.token)} | kw.pop("headers", {})
        url = kw.pop("url", self.url)
        return httpx.request(method, url + path, headers=headers, timeout=30, **kw)

    def snapshots(self, method: str, path: str = "", **kw: Any) -> httpx.Response:
        base = kw.pop("url", self.url).removesuffix("/volumes")
        return self.call(method, path, url=base + "/snapshots", **kw)

    def create(self, token: str | None = None, url: str | None = None, **volume: Any) -> str:
        answer = self.call(
            "POST",
            json={"volume": {"size": 1} | volume},
            token=token or self.token,
            url=url or self.url,
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["volume"]["id"])

    def wait_status(
        self, volume_id: str, status: str, timeout: float = 10, kind: str = "volume"
    ) -> dict[str, Any]:
        """Poll the API (bounded): cinder reports status in its database, not as an event."""
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        get = self.call if kind == "volume" else self.snapshots
        while True:
            answer = get("GET", f"/{volume_id}", token=self.admin)
            current = answer.json()[kind]["status"] if answer.status_code == 200 else "gone"
            if current == status or time.monotonic() > deadline:
                assert current == status, f"volume {volume_id} is {current}, not {status}"
                return dict(answer.json()[kind]) if answer.status_code == 200 else {}
            pause.wait(0.02)

    def action(self, volume_id: str, name: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", f"/{volume_id}/action", json={name: body or {}})

    def stop(self) -> None:
        for binary in reversed(self.binaries):
            binary.stop()
        self.db.dispose()
        self.transport.cleanup()


@pytest.fixture
def cinder(keystone: Keystone, tmp_path: Path) -> Iterator[Cinder]:
    c = Cinder(keystone, tmp_path)
    yield c
    c.stop()
