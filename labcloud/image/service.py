"""The image service as a cloud runs it: its manager and its app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from labcloud.image.api import create_image_app
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore
from labcloud.rest.auth import TokenValidator


class ImageService:
    name = "glance"
    service_type = "image"

    def __init__(self, db_url: str, *, validator: TokenValidator, data_dir: Path) -> None:
        self.manager = ImageManager(db_url, FileStore(data_dir))
        self.validator = validator

    def create_app(self) -> FastAPI:
        return create_image_app(self.manager, self.validator)

    def stop(self) -> None:
        self.manager.db.dispose()
