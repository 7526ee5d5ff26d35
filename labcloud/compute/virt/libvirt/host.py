"""The hypervisor host as nova's ``nova/virt/libvirt/host.py`` sees it: a libvirt connection,
the daemons behind ``qemu:///system``, and whether guests can use KVM here.

On machines without systemd nobody starts libvirtd: ``LibvirtDaemons.ensure`` starts
virtlogd and libvirtd directly when ``qemu:///system`` does not answer, and ``stop`` ends
only what it started; with a ``pid_dir`` it records their pids there, so that another
process (``labcloud down``) stops them after the one that started them has gone.
``probe_virt_type`` does not trust /dev/kvm: on a nested (PVM) host it exists, yet stock
guest kernels hang under it, so the tiny guest boots once under KVM with a short deadline,
and TCG (``qemu``) is the answer when it does not print its marker in time.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt

from labcloud import pids
from labcloud.compute.virt.libvirt import guest
from labcloud.compute.virt.libvirt.image import MARKER, TinyImage

LOG = logging.getLogger(__name__)
SYSTEM_URI = "qemu:///system"
PROBE_DEADLINE = 15.0  # s: KVM boots the tiny guest in about one; a hung KVM never does
DAEMON_DEADLINE = 20.0  # s for libvirtd to answer once started
QEMU_USER = "libvirt-qemu"  # Debian's qemu.conf user
VIRTLOGD_SOCKET = Path("/run/libvirt/virtlogd-sock")


def _quiet(_: Any, __: Any) -> None:
    """libvirt prints every error to stderr by default; labcloud raises them instead."""


def connect(uri: str) -> libvirt.virConnect:
    libvirt.registerErrorHandler(_quiet, None)
    return libvirt.open(uri)


def answers(uri: str) -> bool:
    try:
        connect(uri).close()
        return True
    except libvirt.libvirtError:
        return False


def listening(path: Path) -> bool:
    """Does a process accept connections on the Unix socket ``path``?"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


@dataclass
class LibvirtDaemons:
    """virtlogd and libvirtd, started by labcloud because no init system does it here."""

    uri: str = SYSTEM_URI
    pid_dir: Path | None = None  # <program>.pid for each daemon started (pids.record)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pid_files: dict[int, Path] = field(default_factory=dict)  # pid -> where it is recorded

    def ensure(self) -> LibvirtDaemons:
        """Start what is missing, if ``uri`` does not answer; wait until it does.

        virtlogd is checked on its own: libvirtd's QEMU driver needs it only when a guest
        starts, so a libvirtd that answers says nothing about it, and a socket file left
        by a stopped virtlogd is no proof that one listens."""
        system = self.uri == SYSTEM_URI
        if system and not listening(VIRTLOGD_SOCKET):
            self._start("virtlogd")  # libvirtd's QEMU driver logs guests' stderr through it
            self._wait(lambda: listening(VIRTLOGD_SOCKET), "virtlogd did not listen")
        if answers(self.uri):
            return self
        if not system:
            raise RuntimeError(f"{self.uri} does not answer, and labcloud starts only {SYSTEM_URI}")
        let_qemu_use_kvm()
        if not root_is_mount_point():  # a chroot
            without_mount_namespace()
        self._start("libvirtd")
        self._wait(lambda: answers(self.uri), f"libvirtd did not answer on {self.uri}")
        return self

    def _wait(self, ready: Callable[[], bool], failure: str) -> None:
        """Until ``ready()``; a daemon that exits or a deadline stops all and raises."""
        deadline = time.monotonic() + DAEMON_DEADLINE
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.started):
                self.stop()
                raise RuntimeError(failure)
            threading.Event().wait(0.1)

    def _start(self, program: str) -> None:
        path = shutil.which(program) or f"/usr/sbin/{program}"
        if not Path(path).exists():
            raise RuntimeError(
                f"{program} is not installed (apt-get install libvirt-daemon-system)"
            )
        LOG.info("starting %s", path)
        process = subprocess.Popen(
            [path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the terminal that started labcloud
        )
        self.started.append(process)
        if self.pid_dir is not None:
            self.pid_files[process.pid] = self.pid_dir / f"{program}.pid"
            pids.record(self.pid_files[process.pid], process.pid)

    def stop(self) -> None:
        """End the daemons this object started (by their pids), newest first."""
        for process in reversed(self.started):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            pid_file = self.pid_files.pop(process.pid, None)
            if pid_file is not None:
                pid_file.unlink(missing_ok=True)
        self.started.clear()


QEMU_CONF = Path("/etc/libvirt/qemu.conf")


def root_is_mount_point(mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Is / a mount point for this process? Not in a chroot: there the mounts above its
    root directory are not listed (the fifth field of mountinfo is the mount point)."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return True  # not knowing: assume an ordinary machine
    return any(len(f) > 4 and f[4] == "/" for f in (line.split() for line in lines))


def without_mount_namespace(conf: Path = QEMU_CONF) -> None:
    """libvirt gives each QEMU a private mount namespace with its own /dev, which needs /
    to be a mount point; in a chroot it is not, and every guest fails to start ("Failed
    disable mount propagation out of the root filesystem"). The libvirtd labcloud starts
    there runs its guests without it (qemu.conf ``namespaces = []``): only that hardening
    is lost."""
    try:
        text = conf.read_text()
    except OSError:
        return
    if any(line.strip().startswith("namespaces") for line in text.splitlines()):
        return  # the machine's own choice stays
    LOG.warning("in a chroot: guests run without a private mount namespace (%s)", conf)
    conf.write_text(text + "\n# labcloud, in a chroot (/ is no mount point):\nnamespaces = []\n")


def let_qemu_use_kvm(user: str = QEMU_USER) -> None:
    """Put libvirt's QEMU user in /dev/kvm's group, as Debian's packages do where /dev/kvm is
    root:kvm. Where it is not (a container's /dev/kvm keeps its host's group), libvirtd
    finds KVM usable when it probes QEMU and unusable for that user afterwards, so it probes
    again on every call (8 s each) and defining a domain takes a minute."""
    try:
        kvm_gid = os.stat("/dev/kvm").st_gid
        account = pwd.getpwnam(user)
        group = grp.getgrgid(kvm_gid).gr_name
    except (OSError, KeyError):
        return
    if kvm_gid in os.getgrouplist(user, account.pw_gid) or os.geteuid() != 0:
        return
    LOG.info("adding %s to group %s (the group of /dev/kvm)", user, group)
    subprocess.run(["usermod", "-a", "-G", group, user], check=False, capture_output=True)


def kvm_listed(conn: libvirt.virConnect) -> bool:
    return os.path.exists("/dev/kvm") and "<domain type='kvm'" in conn.getCapabilities()


def probe_virt_type(
    conn: libvirt.virConnect, tiny: TinyImage, cache: Path, deadline: float = PROBE_DEADLINE
) -> str:
    """``kvm`` when the tiny guest really boots under KVM here, else ``qemu``; the answer is
    kept in ``cache`` (one file per host kernel) and the probe runs once."""
    if conn.getURI().startswith("test:"):
        return "test"
    answer = cache / f"virt-type-{os.uname().release}"
    if answer.exists():
        return answer.read_text().strip()
    if not kvm_listed(conn):
        return "qemu"
    virt_type = "kvm" if _boots_under_kvm(conn, tiny, deadline) else "qemu"
    LOG.info("virt type probe: %s", virt_type)
    cache.mkdir(parents=True, exist_ok=True)
    answer.write_text(virt_type + "\n")
    return virt_type


def _boots_under_kvm(conn: libvirt.virConnect, tiny: TinyImage, deadline: float) -> bool:
    work = Path(tempfile.mkdtemp(prefix="labcloud-probe-"))
    log = work / "console.log"
    spec = guest.GuestSpec(
        uuid=str(uuid.uuid4()),
        name="kvm-probe",
        host="probe",
        vcpus=1,
        memory_mb=256,
        disk=str(work / "disk.qcow2"),
        console_log=str(log),
        virt_type="kvm",
        kernel=str(tiny.kernel),
        ramdisk=str(tiny.ramdisk),
        cmdline=tiny.cmdline,
        run_as_root=os.geteuid() == 0,
    )
    domain = None
    try:
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(work / "disk.qcow2"), "1M"], check=True
        )
        domain = conn.createXML(guest.domain_xml(spec))  # transient: gone when destroyed
        return wait_for_marker(log, time.monotonic() + deadline)
    except (libvirt.libvirtError, subprocess.CalledProcessError) as exc:
        LOG.info("the KVM probe guest did not start: %s", exc)
        return False
    finally:
        if domain is not None:
            with contextlib.suppress(libvirt.libvirtError):
                domain.destroy()
        shutil.rmtree(work, ignore_errors=True)


def wait_for_marker(log: Path, until: float, marker: str = MARKER, count: int = 1) -> bool:
    """Wait (until the monotonic time ``until``) for ``marker`` to be in ``log`` ``count``
    times: a guest's serial console reports its progress only by writing to that file."""
    while time.monotonic() < until:
        if log.exists() and log.read_text(errors="replace").count(marker) >= count:
            return True
        threading.Event().wait(0.1)
    return False


def available_resource(conn: libvirt.virConnect, host: str, disk_path: Path) -> dict[str, Any]:
    """What this machine offers, as nova-compute reports it to placement."""
    _model, memory_mb, cpus, *_ = conn.getInfo()
    disk_path.mkdir(parents=True, exist_ok=True)
    disk = os.statvfs(disk_path)
    return {
        "vcpus": int(cpus),
        "memory_mb": int(memory_mb),
        "local_gb": disk.f_blocks * disk.f_frsize >> 30,
        "hypervisor_type": "QEMU" if conn.getType() == "QEMU" else conn.getType(),
        "hypervisor_hostname": host,
    }
