"""The tiny guest: Debian's own kernel and a busybox initramfs, built offline and cached.

It plays cirros's part in a lab: it boots in seconds even without KVM, prints a marker and
its DHCP address on the serial console, answers ping and serves a one-line HTTP page.
``tiny-image.sh`` builds the initramfs (busybox-static, the virtio modules of the installed
kernel); this module takes the uncompressed ``vmlinux`` out of Debian's bzImage, because
QEMU boots an ELF kernel with a PVH entry point directly, without decompressing it (about
5 s to the marker under TCG instead of 11). Both are cached under ``cache_dir``, keyed by
the script, this module and the kernel: editing either rebuilds the image.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from labcloud.spec import ImageSpec

SCRIPT = Path(__file__).with_name("tiny-image.sh")
BUSYBOX = Path("/bin/busybox")
MARKER = "labcloud-guest: ready"  # the guest's last boot line: it is up and serving
ELF_MAGIC = b"\x7fELF"
XZ_MAGIC = b"\xfd7zXZ\x00"
DISK_BYTES = 1 << 20  # the machine image: an empty raw disk (the initramfs is the root)
_BUILD_LOCK = threading.Lock()
_IDS = uuid.UUID("6c61622d-636c-6f75-642d-74696e792d31")  # uuid5 namespace of the image ids


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class TinyImage:
    kernel: Path  # vmlinux (ELF, PVH entry)
    ramdisk: Path  # initramfs (newc cpio, uncompressed: nothing to inflate at boot)
    disk: Path  # a 1 MiB raw disk: what the server's root disk starts from
    cmdline: str = "console=ttyS0 quiet panic=-1"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labcloud"


def newest_kernel(boot: Path = Path("/boot")) -> tuple[str, Path]:
    """The newest Debian kernel installed: (version, path of its vmlinuz)."""
    kernels = sorted(
        boot.glob("vmlinuz-*"), key=lambda p: [int(n) for n in re.findall(r"\d+", p.name)]
    )
    if not kernels:
        raise ImageBuildError(f"no kernel in {boot}: apt-get install linux-image-amd64")
    return kernels[-1].name.removeprefix("vmlinuz-"), kernels[-1]


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel inside a bzImage (what the kernel's scripts/extract-vmlinux does, for
    Debian's xz-compressed kernels)."""
    start = bzimage.find(XZ_MAGIC)
    while start >= 0:
        try:
            data = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(bzimage[start:])
        except lzma.LZMAError:
            data = b""
        if data.startswith(ELF_MAGIC):
            return data
        start = bzimage.find(XZ_MAGIC, start + 1)
    raise ImageBuildError("no xz-compressed ELF kernel in this bzImage")


def trim_zeros(elf: bytes) -> bytes:
    """The kernel without the zeros that end its last segment (.bss, .brk: 26 MB in
    Debian's) and without section headers: a loader fills memory past a segment's file size
    with zeros anyway, and QEMU keeps the whole file in memory for each guest."""
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    size, count = int.from_bytes(elf[0x36:0x38], "little"), int.from_bytes(elf[0x38:0x3A], "little")
    headers = [phoff + i * size for i in range(count)]
    loads = [h for h in headers if int.from_bytes(elf[h : h + 4], "little") == 1]  # PT_LOAD
    last = max(loads, key=lambda h: int.from_bytes(elf[h + 8 : h + 16], "little"))
    offset = int.from_bytes(elf[last + 8 : last + 16], "little")
    filesz = int.from_bytes(elf[last + 32 : last + 40], "little")
    kept = len(elf[offset : offset + filesz].rstrip(b"\0"))
    out = bytearray(elf[: offset + kept])
    out[last + 32 : last + 40] = kept.to_bytes(8, "little")  # p_filesz; p_memsz is unchanged
    out[0x28:0x30] = bytes(8)  # e_shoff: no section headers
    out[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    return bytes(out)


def cache_key(kernel_version: str, vmlinuz: Path) -> str:
    digest = hashlib.sha256(SCRIPT.read_bytes() + Path(__file__).read_bytes())
    for part in (vmlinuz, BUSYBOX):  # a new kernel or busybox package: a new image
        stat = part.stat() if part.exists() else None
        digest.update(f"{part} {stat and stat.st_size} {stat and stat.st_mtime_ns}".encode())
    digest.update(kernel_version.encode())
    return digest.hexdigest()[:16]


def build(cache_dir: Path | None = None) -> TinyImage:
    """The tiny image, built on first use (a few seconds) and then taken from the cache."""
    kernel_version, vmlinuz = newest_kernel()
    where = (cache_dir or default_cache_dir()) / f"tiny-{cache_key(kernel_version, vmlinuz)}"
    image = TinyImage(where / "vmlinux", where / "initramfs.cpio", where / "disk.raw")
    with _BUILD_LOCK:
        if (where / "complete").exists():
            return image
        where.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=where.parent, prefix=".build-"))
        try:
            _build_into(work, kernel_version, vmlinuz)
            shutil.rmtree(where, ignore_errors=True)
            work.rename(where)  # readers see a whole image or none
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return image


def _build_into(work: Path, kernel_version: str, vmlinuz: Path) -> None:
    (work / "vmlinux").write_bytes(trim_zeros(extract_vmlinux(vmlinuz.read_bytes())))
    answer = subprocess.run(
        ["sh", str(SCRIPT), kernel_version, str(work / "initramfs.cpio")],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise ImageBuildError(f"{SCRIPT.name} failed: {answer.stderr.strip()}")
    with (work / "disk.raw").open("wb") as disk:
        disk.truncate(DISK_BYTES)
    (work / "complete").write_text(kernel_version + "\n")


def image_ids(tiny: TinyImage) -> dict[str, Path]:
    """The glance ids the tiny image is registered under, and the file each one holds. The
    ids come from the build's cache key: a compute host that built the same image finds it
    in its own cache and does not download it again."""
    build = tiny.kernel.parent.name
    return {
        str(uuid.uuid5(_IDS, f"{build}/{role}")): path
        for role, path in (("kernel", tiny.kernel), ("ramdisk", tiny.ramdisk), ("disk", tiny.disk))
    }


def glance_images(tiny: TinyImage, name: str = "cirros") -> tuple[ImageSpec, ...]:
    """The tiny image as glance holds it, the way cirros's "uec" images are uploaded: a
    kernel (aki), a ramdisk (ari) and a machine image that names both, so nova boots the
    kernel directly (``kernel_id``/``ramdisk_id``) with the machine image as its root disk."""
    (kernel_id, kernel), (ramdisk_id, ramdisk), (disk_id, disk) = image_ids(tiny).items()
    return (
        ImageSpec(
            f"{name}-kernel",
            kernel.read_bytes(),
            "aki",
            "aki",
            properties={"id": kernel_id},
        ),
        ImageSpec(
            f"{name}-ramdisk",
            ramdisk.read_bytes(),
            "ari",
            "ari",
            properties={"id": ramdisk_id},
        ),
        ImageSpec(
            name,
            disk.read_bytes(),
            "raw",
            "bare",
            properties={
                "id": disk_id,
                "kernel_id": kernel_id,
                "ramdisk_id": ramdisk_id,
                "os_command_line": tiny.cmdline,
            },
        ),
    )
