"""A glance-api over real HTTP, with tokens from a real identity service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labcloud.binaries.content import load_images
from labcloud.image.api import create_image_app
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore
from labcloud.rest.server import ApiServer
from labcloud.spec import CloudSpec
from tests.conftest import Keystone

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


class Glance:
    def __init__(self, keystone: Keystone, data: Path) -> None:
        self.data = data
        self.manager = ImageManager("sqlite://", FileStore(data))
        load_images(self.manager, CloudSpec.demo(), keystone.project_id("admin"))
        app = create_image_app(self.manager, keystone.validator())  # type: ignore[arg-type]
        self.server = ApiServer(app, name="glance").start()
        self.url = self.server.url + "/v2"
        self.demo, self.admin = keystone.token("demo"), keystone.token("admin", "admin")
        self.demo_project = keystone.project_id("demo")

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": token or self.demo} | kw.pop("headers", {})
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def create(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        answer = self.call(
            "POST", "/images", token, json={"disk_format": "raw", "container_format": "bare"} | body
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@pytest.fixture
def glance(keystone: Keystone, tmp_path: Path) -> Iterator[Glance]:
    g = Glance(keystone, tmp_path / "images")
    yield g
    g.server.stop()
    g.manager.db.dispose()
