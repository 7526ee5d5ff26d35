"""A compute host's image cache: an image it has not cached comes from glance, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from labcloud.compute.virt.driver import VirtDriverError
from labcloud.compute.virt.libvirt.imagecache import ImageCache


def test_an_uncached_image_is_downloaded_once_with_the_builds_function(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "_base", tmp_path, build_tiny=False)
    calls: list[str] = []

    def download(image_id: str) -> list[bytes]:
        calls.append(image_id)
        return [b"QFI", b"\xfb rest of a disk"]

    first = cache.path("img-1", download)
    again = cache.path("img-1", download)
    assert first == again == tmp_path / "_base" / "img-1"
    assert first.read_bytes() == b"QFI\xfb rest of a disk"
    assert calls == ["img-1"]


def test_a_failed_download_leaves_nothing_half_written(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "_base", tmp_path, build_tiny=False)

    def broken(image_id: str) -> list[bytes]:
        raise VirtDriverError(reason="glance answered 503")

    with pytest.raises(VirtDriverError, match="503"):
        cache.path("img-2", broken)
    assert list((tmp_path / "_base").iterdir()) == []


def test_without_a_way_to_download_the_error_says_so(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "_base", tmp_path, build_tiny=False)
    with pytest.raises(VirtDriverError, match="no way to download"):
        cache.path("img-3")
