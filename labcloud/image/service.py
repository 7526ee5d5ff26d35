"""The image service as a cloud runs it: its manager, its app, and the spec's images."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from labcloud.context import RequestContext
from labcloud.image.api import create_image_app
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore
from labcloud.rest.auth import TokenValidator
from labcloud.spec import CloudSpec


class ImageService:
    name = "glance"
    service_type = "image"

    def __init__(self, db_url: str, *, validator: TokenValidator, data_dir: Path) -> None:
        self.manager = ImageManager(db_url, FileStore(data_dir))
        self.validator = validator

    def create_app(self) -> FastAPI:
        return create_image_app(self.manager, self.validator)

    def load(self, spec: CloudSpec, owner_project_id: str) -> None:
        """Create and upload the spec's images, owned by ``owner_project_id``."""
        owner = RequestContext(project_id=owner_project_id, is_admin=True, roles=("admin",))
        for spec_image in spec.images:
            image = self.manager.create(
                owner,
                {
                    "name": spec_image.name,
                    "disk_format": spec_image.disk_format,
                    "container_format": spec_image.container_format,
                    "visibility": spec_image.visibility,
                    "min_disk": spec_image.min_disk,
                    "min_ram": spec_image.min_ram,
                }
                | spec_image.properties,
            )
            self.manager.upload(owner, image.id, [spec_image.data])

    def stop(self) -> None:
        self.manager.db.dispose()
