"""Where image data lives, after glance_store: one narrow interface, two stores.

``ImageStore`` is the contract (add, get, delete); ``MemoryStore`` is the reference a
student can read in a minute; ``FileStore`` keeps each image in one file under the cloud's
state directory, like glance_store's ``file`` backend. Both pass the same contract tests.
Left out: glance_store's other backends (swift, ceph rbd, http, ...), multiple stores, and
``locations`` (a store's URL for each image's data).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from labcloud.exceptions import Conflict, Invalid, NotFound

CHUNK_SIZE = 64 * 1024
HASH_ALGO = "sha512"  # glance's default os_hash_algo

Data = bytes | Iterable[bytes]


class ImageDataNotFound(NotFound):
    msg_fmt = "Image %(image_id)s has no data."


class ImageDataExists(Conflict):
    msg_fmt = "Image %(image_id)s already has data in the store."


class ImageStore(Protocol):
    def add(self, image_id: str, data: Data) -> tuple[int, str, str]:
        """Store an image's data; return (size, md5 hex, sha512 hex). ImageDataExists if it
        has data already; a failed add leaves nothing behind."""

    def get(self, image_id: str) -> Iterator[bytes]:
        """The data in chunks; ImageDataNotFound (at once, not mid-stream) when there is none."""

    def delete(self, image_id: str) -> None:
        """Remove the data; safe to repeat."""


class Digest:
    """Size, md5 and sha512 of data seen chunk by chunk (glance computes them as it writes)."""

    def __init__(self) -> None:
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)  # glance's legacy "checksum"
        self.sha512 = hashlib.new(HASH_ALGO)

    def update(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        self.md5.update(chunk)
        self.sha512.update(chunk)
        return chunk

    def result(self) -> tuple[int, str, str]:
        return self.size, self.md5.hexdigest(), self.sha512.hexdigest()


def _chunks(data: Data) -> Iterable[bytes]:
    return [data] if isinstance(data, bytes) else data


class MemoryStore:
    """The reference store: a dict of bytes (data is gone when the process ends)."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def add(self, image_id: str, data: Data) -> tuple[int, str, str]:
        digest = Digest()
        whole = b"".join(digest.update(chunk) for chunk in _chunks(data))
        with self._lock:
            if image_id in self._data:
                raise ImageDataExists(image_id=image_id)
            self._data[image_id] = whole
        return digest.result()

    def get(self, image_id: str) -> Iterator[bytes]:
        with self._lock:
            if image_id not in self._data:
                raise ImageDataNotFound(image_id=image_id)
            whole = self._data[image_id]
        return iter([whole[i : i + CHUNK_SIZE] for i in range(0, len(whole), CHUNK_SIZE)])

    def delete(self, image_id: str) -> None:
        with self._lock:
            self._data.pop(image_id, None)


class FileStore:
    """One file per image, named by its id, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, image_id: str) -> Path:
        # ids become file names: refuse anything that could point outside the directory
        if not image_id or image_id.startswith(".") or "/" in image_id or "\\" in image_id:
            raise Invalid(f"Invalid image id for the file store: {image_id!r}")
        return self.directory / image_id

    def add(self, image_id: str, data: Data) -> tuple[int, str, str]:
        final = self.path(image_id)
        if final.exists():
            raise ImageDataExists(image_id=image_id)
        digest = Digest()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(data):
                    out.write(digest.update(chunk))
            # a rename is atomic: readers see the whole image or none of it, never a part
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest.result()

    def get(self, image_id: str) -> Iterator[bytes]:
        try:
            handle = self.path(image_id).open("rb")  # opened now, so a missing file fails now
        except FileNotFoundError:
            raise ImageDataNotFound(image_id=image_id) from None
        return _read(handle)

    def delete(self, image_id: str) -> None:
        self.path(image_id).unlink(missing_ok=True)


def _read(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk
