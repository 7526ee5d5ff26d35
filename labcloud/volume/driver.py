"""The storage backend interface, with ``FileDriver`` (a sparse file per volume) as the
reference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class VolumeDriver(Protocol):
    def create_volume(self, volume_id: str, size_gb: int) -> None: ...

    def delete_volume(self, volume_id: str) -> None:
        """Remove it; safe to repeat."""

    def initialize_connection(self, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        """How ``connector`` (a compute host) reaches the volume: cinder's connection_info."""

    def terminate_connection(self, volume_id: str, connector: dict[str, Any]) -> None: ...


class FileDriver:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, volume_id: str) -> Path:
        return self.directory / f"volume-{volume_id}"

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        with self.path(volume_id).open("xb") as f:
            os.truncate(f.fileno(), size_gb << 30)  # sparse: takes no space until written

    def delete_volume(self, volume_id: str) -> None:
        self.path(volume_id).unlink(missing_ok=True)

    def initialize_connection(self, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        return {
            "driver_volume_type": "file",
            "data": {"device_path": str(self.path(volume_id)), "volume_id": volume_id},
        }

    def terminate_connection(self, volume_id: str, connector: dict[str, Any]) -> None:
        return None
