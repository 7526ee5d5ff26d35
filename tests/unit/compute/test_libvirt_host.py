"""The libvirt host's set-up where no init system runs: a chroot's qemu.conf."""

from __future__ import annotations

from pathlib import Path

from labcloud.compute.virt.libvirt import host


def test_a_chroot_turns_off_the_mount_namespace_once(tmp_path: Path) -> None:
    conf = tmp_path / "qemu.conf"
    conf.write_text('#namespaces = [ "mount" ]\nuser = "libvirt-qemu"\n')
    host.without_mount_namespace(conf)
    host.without_mount_namespace(conf)
    lines = conf.read_text().splitlines()
    assert lines.count("namespaces = []") == 1
    assert lines[:2] == ['#namespaces = [ "mount" ]', 'user = "libvirt-qemu"']


def test_the_machines_own_namespace_setting_stays(tmp_path: Path) -> None:
    conf = tmp_path / "qemu.conf"
    conf.write_text('namespaces = [ "mount" ]\n')
    host.without_mount_namespace(conf)
    assert conf.read_text() == 'namespaces = [ "mount" ]\n'


def test_a_root_that_is_no_mount_point_is_seen(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n")
    assert host.root_is_mount_point(info)
    info.write_text("30 24 0:5 / /proc rw - proc proc rw\n")  # a chroot's view
    assert not host.root_is_mount_point(info)
