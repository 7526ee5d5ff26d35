"""cinder makes volumes from glance's images: cinder-api checks the image, cinder-volume
downloads its data (with the user's token) and writes it as raw; the volume boots."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Keystone, require
from tests.integration.image.conftest import Glance
from tests.integration.volume.conftest import Cinder


@pytest.fixture
def clouds(keystone: Keystone, tmp_path: Path) -> Iterator[tuple[Glance, Cinder]]:
    glance = Glance(keystone, tmp_path / "images")
    cinder = Cinder(keystone, tmp_path / "volumes", image_url=glance.server.url)
    yield glance, cinder
    cinder.stop()
    glance.server.stop()
    glance.manager.db.dispose()


def _image(glance: Glance, data: bytes, disk_format: str, **extra: object) -> str:
    image = glance.create(name=f"disk-{disk_format}", disk_format=disk_format, **extra)
    put = glance.call("PUT", f"/images/{image['id']}/file", content=data)
    assert put.status_code == 204, put.text
    return str(image["id"])


def test_a_raw_image_is_copied_and_the_volume_boots(clouds: tuple[Glance, Cinder]) -> None:
    glance, cinder = clouds
    data = b"\xeb\x63\x90 a boot sector " * 100
    image_id = _image(glance, data, "raw")
    vid = cinder.create(imageRef=image_id, name="boot")
    volume = cinder.wait_status(vid, "available")
    assert volume["bootable"] == "true"
    assert volume["volume_image_metadata"]["image_id"] == image_id
    assert volume["volume_image_metadata"]["disk_format"] == "raw"
    path = cinder.data / f"volume-{vid}"
    with path.open("rb") as f:
        assert f.read(len(data)) == data
    assert path.stat().st_size == 1 << 30


def test_a_qcow2_image_is_converted_to_raw(clouds: tuple[Glance, Cinder], tmp_path: Path) -> None:
    require(shutil.which("qemu-img") is not None, "qemu-img is not installed (qemu-utils)")
    glance, cinder = clouds
    raw, qcow2 = tmp_path / "disk.raw", tmp_path / "disk.qcow2"
    raw.write_bytes(b"labcloud qcow2 payload\n" * 1000)
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True
    )
    assert qcow2.read_bytes()[:4] == b"QFI\xfb"
    vid = cinder.create(imageRef=_image(glance, qcow2.read_bytes(), "qcow2"))
    cinder.wait_status(vid, "available")
    with (cinder.data / f"volume-{vid}").open("rb") as f:
        assert f.read(raw.stat().st_size) == raw.read_bytes()


def test_data_that_is_not_its_format_ends_the_volume_in_error(
    clouds: tuple[Glance, Cinder],
) -> None:
    """cinder's fetch_to_raw fails on a "qcow2" qemu-img cannot read: the volume is error,
    never a silent copy of bytes no guest could boot."""
    require(shutil.which("qemu-img") is not None, "qemu-img is not installed (qemu-utils)")
    glance, cinder = clouds
    vid = cinder.create(imageRef=_image(glance, b"QFI\xfb not really a qcow2" * 10, "qcow2"))
    cinder.wait_status(vid, "error")


def test_the_demo_cirros_is_a_qcow2_cinder_converts(clouds: tuple[Glance, Cinder]) -> None:
    from labcloud.spec import CIRROS_DATA

    require(shutil.which("qemu-img") is not None, "qemu-img is not installed (qemu-utils)")
    glance, cinder = clouds
    vid = cinder.create(imageRef=_image(glance, CIRROS_DATA, "qcow2"))
    cinder.wait_status(vid, "available")


def test_images_cinder_cannot_use_are_400(clouds: tuple[Glance, Cinder]) -> None:
    glance, cinder = clouds
    queued = glance.create(name="no-data")["id"]
    big = _image(glance, b"x", "raw", min_disk=5)
    secret = glance.create(glance.admin, name="secret", visibility="private")["id"]
    for ref, words in (
        (queued, "not active"),
        (big, "minDisk"),
        (secret, "Invalid image"),
        ("00000000-0000-0000-0000-000000000000", "Invalid image"),
        ("../../v2/images", "Invalid image"),
    ):
        answer = cinder.call("POST", json={"volume": {"size": 1, "imageRef": ref}})
        assert answer.status_code == 400, (ref, answer.text)
        assert words in answer.json()["badRequest"]["message"]
    snapshotless = {"volume": {"size": 1, "imageRef": big, "snapshot_id": queued}}
    assert cinder.call("POST", json=snapshotless).status_code == 400
    assert cinder.call("GET").json() == {"volumes": []}
