"""Instance disks with qemu-img, as nova's ``nova/virt/libvirt/imagebackend.py`` (Qcow2)
makes them: a copy-on-write overlay whose backing file is the cached image, so a hundred
instances of one image store only what each of them writes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from labcloud.compute.virt.driver import VirtDriverError

GiB = 1 << 30


def _qemu_img(*args: str) -> str:
    try:
        answer = subprocess.run(
            ["qemu-img", *args], capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError as exc:
        reason = "qemu-img is not installed (apt-get install qemu-utils)"
        raise VirtDriverError(reason=reason) from exc
    if answer.returncode != 0:
        raise VirtDriverError(reason=f"qemu-img {args[0]}: {answer.stderr.strip()}")
    return answer.stdout


def base_format(disk_format: str | None) -> str:
    """The format QEMU reads a glance image in: qcow2 is qcow2, anything else raw bytes."""
    return "qcow2" if disk_format == "qcow2" else "raw"


def virtual_size(path: Path) -> int:
    return int(json.loads(_qemu_img("info", "--output=json", "-U", str(path)))["virtual-size"])


def create_overlay(
    base: Path, disk_format: str | None, overlay: Path, flavor: dict[str, Any]
) -> None:
    """A qcow2 overlay on ``base``, as large as the flavor's root disk (or the image)."""
    fmt = base_format(disk_format)
    size = max(int(flavor.get("root_gb") or 0) * GiB, virtual_size(base))
    _qemu_img("create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(overlay), str(size))


def grow(disk: Path, root_gb: int) -> None:
    """A resize to a larger flavor grows the disk; nothing ever shrinks one (nova neither)."""
    if root_gb * GiB > virtual_size(disk):
        _qemu_img("resize", "-q", str(disk), str(root_gb * GiB))


def target(mountpoint: str) -> str:
    """``/dev/vdb`` -> ``vdb``, the name libvirt gives the disk inside the guest."""
    return mountpoint.rsplit("/", 1)[-1]
