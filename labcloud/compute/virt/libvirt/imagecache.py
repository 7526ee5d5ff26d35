"""A compute host's image cache, after nova's ``instances/_base``: each glance image's data
once per host, shared read-only by every instance's qcow2 overlay.

An image is found, in order: in the cache; among the files of the tiny image this host
built itself (the same build registered in glance has the same ids, see image.py); or
downloaded from glance (``GET /v2/images/{id}/file``) with the download function of the
build, which carries its user's token as nova's image backend does.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from labcloud.compute.virt.driver import Download, VirtDriverError
from labcloud.compute.virt.libvirt import image


class ImageCache:
    def __init__(
        self,
        directory: Path,
        cache_dir: Path,
        download: Download | None = None,
        build_tiny: bool = True,
    ) -> None:
        self.directory = directory
        self.cache_dir = cache_dir
        self.download = download
        self.build_tiny = build_tiny
        self._lock = threading.Lock()

    def tiny(self) -> image.TinyImage | None:
        """The tiny image of this host (built on first use), or None where it cannot be."""
        if not self.build_tiny:
            return None
        try:
            return image.build(self.cache_dir)
        except (image.ImageBuildError, OSError):
            return None

    def path(self, image_id: str, download: Download | None = None) -> Path:
        """The local file holding ``image_id``'s data; VirtDriverError when it cannot be had.
        ``download`` (this build's, with its user's token) comes before the cache's own."""
        cached = self.directory / image_id
        if cached.exists():
            return cached
        tiny = self.tiny()  # built here from the same script: its ids name the same data
        if tiny is not None and image_id in image.image_ids(tiny):
            return image.image_ids(tiny)[image_id]
        fetch = download or self.download
        if fetch is not None:
            with self._lock:  # one download per image, however many builds want it
                if not cached.exists():
                    self._fetch(fetch, image_id, cached)
            return cached
        raise VirtDriverError(
            reason=f"image {image_id} is not in this host's image cache, and this driver "
            "was given no way to download it"
        )

    def _fetch(self, download: Download, image_id: str, final: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in download(image_id):
                    out.write(chunk)
            os.replace(tmp, final)  # whole, or not there
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
