"""The libvirt driver's pure parts: power states, domain XML, the kernel taken out of a
bzImage. (The driver itself passes tests/integration/compute/test_virt_contract.py.)"""

from __future__ import annotations

import lzma
import struct
from pathlib import Path
from xml.etree import ElementTree

import pytest

from labcloud.compute.states import PowerState
from labcloud.compute.virt.libvirt import guest, image


@pytest.mark.parametrize(
    ("state", "saved", "expected"),
    [
        (0, False, PowerState.NOSTATE),
        (1, False, PowerState.RUNNING),
        (2, False, PowerState.RUNNING),  # blocked: running, vCPUs idle
        (3, False, PowerState.PAUSED),
        (4, False, PowerState.SHUTDOWN),  # shutting down
        (5, False, PowerState.SHUTDOWN),  # shut off
        (5, True, PowerState.SUSPENDED),  # shut off with a managed save: suspended
        (6, False, PowerState.CRASHED),
        (7, False, PowerState.SUSPENDED),  # pmsuspended
    ],
)
def test_libvirt_states_map_to_nova_power_states(
    state: int, saved: bool, expected: PowerState
) -> None:
    assert guest.power_state(state, saved) is expected


def _spec(**changes: object) -> guest.GuestSpec:
    spec = guest.GuestSpec(
        uuid="0b5e3a5c-1111-4222-8333-444455556666",
        name="vm<1>",
        host="compute1",
        vcpus=2,
        memory_mb=512,
        disk="/var/lib/x/disk",
        console_log="/var/lib/x/console.log",
        kernel="/cache/vmlinux",
        ramdisk="/cache/initramfs.cpio",
        cmdline="console=ttyS0",
        macs=("fa:16:3e:00:00:01",),
        volumes={"vdb": "/volumes/volume-1"},
    )
    return guest.GuestSpec(**(spec.__dict__ | changes))  # type: ignore[arg-type]


def test_domain_xml_from_the_flavor_image_and_ports() -> None:
    root = ElementTree.fromstring(guest.domain_xml(_spec()))
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "instance-0b5e3a5c-1111-4222-8333-444455556666"
    assert root.findtext("vcpu") == "2"
    assert root.findtext("memory") == "512"
    assert root.findtext("os/kernel") == "/cache/vmlinux"
    assert "labcloud.hostname=vm<1>" in (root.findtext("os/cmdline") or "")
    assert root.findtext("features/tcg/tb-cache") == str(guest.TB_CACHE_MIB)
    targets = [d.get("dev") for d in root.findall("devices/disk/target")]
    assert targets == ["vda", "vdb"]
    assert root.find("devices/interface/mac").get("address") == "fa:16:3e:00:00:01"  # type: ignore[union-attr]
    assert root.find("devices/serial/source").get("path") == "/var/lib/x/console.log"  # type: ignore[union-attr]
    metadata = ElementTree.tostring(root.find("metadata")[0]).decode()  # type: ignore[index]
    assert "compute1" in metadata


def test_kvm_has_no_tcg_cache_and_a_disk_boot_has_no_kernel() -> None:
    root = ElementTree.fromstring(guest.domain_xml(_spec(virt_type="kvm", kernel=None)))
    assert root.find("features/tcg") is None
    assert root.find("os/kernel") is None
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]


def test_host_of_reads_the_metadata_libvirt_gives_back() -> None:
    assert guest.host_of("<instance><host>compute2</host></instance>") == "compute2"
    assert guest.host_of("not xml") is None


def _elf(segment: bytes) -> bytes:
    """A 64-bit ELF with one PT_LOAD segment holding ``segment``, then section headers."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    phoff, offset = 64, 64 + 56
    struct.pack_into("<Q", header, 0x20, phoff)
    struct.pack_into("<Q", header, 0x28, offset + len(segment))  # e_shoff
    struct.pack_into("<HHHH", header, 0x36, 56, 1, 64, 3)  # phentsize, phnum, shentsize, shnum
    ph = struct.pack("<IIQQQQQQ", 1, 7, offset, 0, 0, len(segment), len(segment), 0x1000)
    return bytes(header) + ph + segment + b"S" * 192


def test_the_kernel_is_taken_out_of_a_bzimage_and_its_zeros_trimmed() -> None:
    elf = _elf(b"code" + bytes(4096))
    bzimage = b"setup" * 100 + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"trailer"
    extracted = image.extract_vmlinux(bzimage)
    assert extracted == elf
    trimmed = image.trim_zeros(extracted)
    assert len(trimmed) == 64 + 56 + 4
    filesz, memsz = struct.unpack_from("<QQ", trimmed, 64 + 32)
    assert (filesz, memsz) == (4, 4100)
    assert struct.unpack_from("<Q", trimmed, 0x28) == (0,)  # no section headers left


def test_a_bzimage_without_an_elf_kernel_is_refused() -> None:
    with pytest.raises(image.ImageBuildError):
        image.extract_vmlinux(b"MZ" + lzma.compress(b"not elf", format=lzma.FORMAT_XZ))


def test_the_glance_images_name_their_kernel_and_ramdisk(tmp_path: Path) -> None:
    build = tmp_path / "tiny-0123"
    build.mkdir()
    for name in ("vmlinux", "initramfs.cpio", "disk.raw"):
        (build / name).write_bytes(name.encode())
    tiny = image.TinyImage(build / "vmlinux", build / "initramfs.cpio", build / "disk.raw")
    kernel, ramdisk, machine = image.glance_images(tiny)
    assert (kernel.disk_format, ramdisk.disk_format, machine.name) == ("aki", "ari", "cirros")
    assert machine.properties["kernel_id"] == kernel.properties["id"]
    assert machine.properties["ramdisk_id"] == ramdisk.properties["id"]
    assert image.image_ids(tiny)[kernel.properties["id"]] == tiny.kernel
    assert image.glance_images(tiny) == (kernel, ramdisk, machine)  # the same ids every time
