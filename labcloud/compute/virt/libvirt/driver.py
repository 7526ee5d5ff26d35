"""nova-compute's libvirt driver, after ``nova/virt/libvirt/driver.py``: real guests (QEMU,
with KVM where it really works) behind the same dozen methods as the fake driver.

One domain per instance, ``instance-<uuid>``; its files and XML are domains.py's and
guest.py's business, its images the image cache's. Resizes rely on shared storage (every
labcloud host of one machine sees the same ``instances_path``), so the disk the source sets
aside is the one the destination starts. Left out: live migration, snapshots, rescue, the
many image backends and device types nova supports.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import libvirt

from labcloud.compute.virt.driver import (
    Download,
    InstanceExists,
    InstanceInfo,
    InstanceNotOnHypervisor,
    VirtDriverError,
)
from labcloud.compute.virt.libvirt import disks, guest, vif
from labcloud.compute.virt.libvirt import host as libvirt_host
from labcloud.compute.virt.libvirt.domains import Domains, call
from labcloud.compute.virt.libvirt.image import MARKER, default_cache_dir
from labcloud.compute.virt.libvirt.imagecache import ImageCache

CONSOLE_BYTES = 100 * 1024  # nova's MAX_CONSOLE_BYTES: the tail of the console log
RESIZE = "_resize"  # nova's suffix for the directory a resize sets aside
LIVE_AND_CONFIG = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG


class LibvirtDriver:
    def __init__(
        self,
        host: str,
        uri: str = libvirt_host.SYSTEM_URI,
        instances_path: Path | None = None,
        cache_dir: Path | None = None,
        virt_type: str | None = None,
        download: Download | None = None,
        shutdown_timeout: float = 20.0,
        start_daemons: bool = True,
        daemons_dir: Path | None = None,
        datapath_tag: str | None = None,
    ) -> None:
        """``virt_type``: kvm, qemu or test, None to probe; ``download``: image id -> data,
        for images this host has not cached; ``shutdown_timeout``: seconds a guest has to
        power off after the ACPI button is pressed, before the plug is pulled;
        ``start_daemons``: start libvirtd if ``qemu:///system`` does not answer;
        ``daemons_dir``: record the pids of the daemons started there (``labcloud down``);
        ``datapath_tag``: the guests' NICs are taps plugged into that labcloud datapath
        (vif.py), else libvirt's user networking."""
        self.host = host
        self.uri = uri
        self.cache_dir = cache_dir or default_cache_dir()
        path = instances_path or Path(tempfile.gettempdir()) / "labcloud-instances"
        self.domains = Domains(host, uri, path)
        self.images = ImageCache(self.cache_dir / "_base", self.cache_dir, download)
        self.virt_type = virt_type
        self.shutdown_timeout = shutdown_timeout
        wants_daemons = start_daemons and uri == libvirt_host.SYSTEM_URI
        self.daemons = libvirt_host.LibvirtDaemons(uri, daemons_dir) if wants_daemons else None
        self.plugger = vif.HostNamespacePlugger(datapath_tag, host) if datapath_tag else None
        self._lock = threading.Lock()

    # -- the host ------------------------------------------------------------------------
    def init_host(self) -> None:
        """Make sure libvirtd answers, and find out whether guests can use KVM here."""
        if self.daemons is not None:
            try:
                self.daemons.ensure()
            except RuntimeError as exc:
                raise VirtDriverError(reason=str(exc)) from exc
        if self.virt_type is None:
            tiny = self.images.tiny()
            conn = self.domains.conn
            self.virt_type = (
                libvirt_host.probe_virt_type(conn, tiny, self.cache_dir)
                if tiny is not None
                else ("test" if self.uri.startswith("test:") else "qemu")
            )

    def get_available_resource(self) -> dict[str, Any]:
        return libvirt_host.available_resource(
            self.domains.conn, self.host, self.domains.instances_path
        )

    def close(self) -> None:
        self.domains.close()

    @property
    def boot_marker(self) -> str | None:
        """The tiny image's last boot line; libvirt's test driver runs no guest."""
        return None if self.virt_type == "test" or self.uri.startswith("test:") else MARKER

    # -- build and delete ----------------------------------------------------------------
    def spawn(
        self,
        instance: dict[str, Any],
        image_meta: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        download: Download | None = None,
        paused: bool = False,
    ) -> None:
        if self.virt_type is None:
            self.init_host()
        uuid = instance["uuid"]
        with self._lock:
            if self._exists(uuid):
                raise InstanceExists(uuid=uuid)
            self.domains.dir(uuid).mkdir(parents=True)
        try:
            spec = self._spec(instance, image_meta, network_info, download)
            volumes = {
                disks.target(bdm["device"]): bdm["connection_info"]["data"]["device_path"]
                for bdm in block_device_info.get("block_device_mapping", [])
            }
            self._start(self.domains.define(replace(spec, volumes=volumes)), spec, paused)
        except VirtDriverError:
            self.destroy(instance)  # a failed build leaves nothing: it may go to another host
            raise
        except OSError as exc:
            self.destroy(instance)
            raise VirtDriverError(reason=str(exc)) from exc

    def _exists(self, uuid: str) -> bool:
        return self.domains.find(uuid, any_host=True) is not None or self.domains.dir(uuid).exists()

    def _start(
        self, domain: libvirt.virDomain, spec: guest.GuestSpec | str, paused: bool = False
    ) -> None:
        """Start the domain and plug its taps into the datapath (a tap is made anew by
        libvirt on every start). ``spec``: the guest's, or its uuid to read it; ``paused``:
        QEMU is up with the NICs, its vCPUs stopped (nova's VIR_DOMAIN_START_PAUSED)."""
        if self.plugger is None:
            _create(domain, paused)
            return
        taps = (self.domains.spec(spec) if isinstance(spec, str) else spec).taps
        self.plugger.before_start(taps)
        _create(domain, paused)
        self.plugger.after_start(taps)

    def unpause(self, instance: dict[str, Any]) -> None:
        """Let its vCPUs run (virDomainResume, nova's ``guest.resume()``)."""
        domain = self.domains.get(instance["uuid"])
        if call(domain.state)[0] == libvirt.VIR_DOMAIN_PAUSED:
            call(domain.resume)

    def _spec(
        self,
        instance: dict[str, Any],
        image_meta: dict[str, Any],
        network_info: list[Any],
        download: Download | None = None,
    ) -> guest.GuestSpec:
        uuid, flavor = instance["uuid"], instance["flavor"]
        where = self.domains.dir(uuid)
        base = self.images.path(image_meta["id"], download)
        disks.create_overlay(base, image_meta.get("disk_format"), where / "disk", flavor)
        kernel_id, ramdisk_id = image_meta.get("kernel_id"), image_meta.get("ramdisk_id")
        return guest.GuestSpec(
            uuid=uuid,
            name=instance.get("display_name") or uuid,
            host=self.host,
            vcpus=int(flavor["vcpus"]),
            memory_mb=int(flavor["memory_mb"]),
            disk=str(where / "disk"),
            console_log=str(where / "console.log"),
            virt_type=self.virt_type or "qemu",
            kernel=str(self.images.path(kernel_id, download)) if kernel_id else None,
            ramdisk=str(self.images.path(ramdisk_id, download)) if ramdisk_id else None,
            cmdline=image_meta.get("os_command_line") or "console=ttyS0",
            macs=tuple(v["mac_address"] for v in network_info),
            taps=vif.taps(network_info) if self.plugger else (),
            run_as_root=self.uri == libvirt_host.SYSTEM_URI and os.geteuid() == 0,
        )

    def destroy(self, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        try:
            taps = self.domains.spec(uuid).taps
        except InstanceNotOnHypervisor:
            taps = ()
        self.domains.undefine(uuid)
        if self.plugger is not None:
            self.plugger.unplug(taps)
        self.domains.remove_files(instance["uuid"])  # a resize's copy stays

    # -- power ---------------------------------------------------------------------------
    def reboot(self, instance: dict[str, Any], reboot_type: str) -> None:
        """SOFT: the guest shuts down (ACPI) and starts again; HARD: reset, then start."""
        domain = self.domains.get(instance["uuid"])
        if reboot_type == "HARD":
            if domain.isActive():
                call(domain.destroy)
        else:
            self.domains.shutdown(domain, self.shutdown_timeout)
        self._start(domain, instance["uuid"])

    def power_off(self, instance: dict[str, Any]) -> None:
        self.domains.shutdown(self.domains.get(instance["uuid"]), self.shutdown_timeout)

    def power_on(self, instance: dict[str, Any]) -> None:
        domain = self.domains.get(instance["uuid"])
        if not domain.isActive():
            self._start(domain, instance["uuid"])  # a managed-saved guest is restored

    def suspend(self, instance: dict[str, Any]) -> None:
        """Save the guest's memory to disk and stop it (libvirt's managedsave)."""
        domain = self.domains.get(instance["uuid"])
        if domain.isActive():
            call(domain.managedSave)

    def resume(self, instance: dict[str, Any]) -> None:
        self.power_on(instance)

    def get_info(self, instance: dict[str, Any]) -> InstanceInfo:
        domain = self.domains.get(instance["uuid"])
        state = call(domain.state)[0]
        return InstanceInfo(guest.power_state(state, bool(call(domain.hasManagedSaveImage))))

    def list_instances(self) -> list[str]:
        return self.domains.uuids()

    def get_console_output(self, instance: dict[str, Any]) -> str:
        """The tail of the guest's serial console (``openstack console log show``)."""
        self.domains.get(instance["uuid"])
        log = self.domains.dir(instance["uuid"]) / "console.log"
        if not log.exists():
            return ""
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - CONSOLE_BYTES))
            return f.read().decode(errors="replace")

    # -- resize (shared storage) -----------------------------------------------------------
    def migrate_disk_and_power_off(self, instance: dict[str, Any], dest: str) -> None:
        uuid = instance["uuid"]
        self.domains.shutdown(self.domains.get(uuid), self.shutdown_timeout)
        self.domains.undefine(uuid)
        self.domains.remove_files(uuid, RESIZE)
        self.domains.dir(uuid).rename(self.domains.dir(uuid, RESIZE))

    def finish_migration(
        self, instance: dict[str, Any], network_info: list[dict[str, Any]], power_on: bool
    ) -> None:
        uuid, flavor = instance["uuid"], instance["flavor"]
        old = self.domains.spec(uuid, RESIZE)
        if self._exists(uuid):
            raise InstanceExists(uuid=uuid)
        shutil.copytree(self.domains.dir(uuid, RESIZE), self.domains.dir(uuid))
        disks.grow(Path(old.disk), int(flavor.get("root_gb") or 0))
        spec = replace(
            old,
            host=self.host,
            vcpus=int(flavor["vcpus"]),
            memory_mb=int(flavor["memory_mb"]),
            macs=tuple(v["mac_address"] for v in network_info),
            taps=vif.taps(network_info) if self.plugger else (),
        )
        domain = self.domains.define(spec)
        if power_on:
            self._start(domain, spec)

    def confirm_migration(self, instance: dict[str, Any]) -> None:
        self.domains.remove_files(instance["uuid"], RESIZE)

    def finish_revert_migration(self, instance: dict[str, Any], power_on: bool) -> None:
        uuid = instance["uuid"]
        spec = self.domains.spec(uuid, RESIZE)  # as it was before the resize
        self.domains.undefine(uuid)
        shutil.rmtree(self.domains.dir(uuid), ignore_errors=True)
        self.domains.dir(uuid, RESIZE).rename(self.domains.dir(uuid))
        domain = self.domains.define(replace(spec, host=self.host))
        if power_on:
            self._start(domain, spec)

    # -- volumes: the cinder file driver's file, as a virtio disk --------------------------
    def attach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        path = connection_info["data"]["device_path"]
        self._change_volumes(instance, disks.target(mountpoint), path)

    def detach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        self._change_volumes(instance, disks.target(mountpoint), None)

    def _change_volumes(self, instance: dict[str, Any], target: str, path: str | None) -> None:
        """Hot-plug (or unplug) the disk into a running guest, and keep it in the domain's
        configuration; a driver that cannot hot-plug (libvirt's test driver) gets the new
        configuration only."""
        domain = self.domains.get(instance["uuid"])
        spec = self.domains.spec(instance["uuid"])
        old = spec.volumes.get(target)
        volumes = {k: v for k, v in spec.volumes.items() if k != target}
        if path is not None:
            volumes[target] = path
        elif old is None:
            return  # not attached: detach is safe to repeat
        xml = guest.disk_xml(target, path or old or "", "raw")
        flags = LIVE_AND_CONFIG if domain.isActive() else libvirt.VIR_DOMAIN_AFFECT_CONFIG
        change = domain.attachDeviceFlags if path is not None else domain.detachDeviceFlags
        try:
            change(xml, flags)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise VirtDriverError(reason=str(exc)) from exc
        self.domains.define(replace(spec, volumes=volumes))  # the next boot's configuration


def _create(domain: libvirt.virDomain, paused: bool) -> None:
    if not paused:
        call(domain.create)
        return
    try:
        domain.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
            raise VirtDriverError(reason=str(exc)) from exc
        # libvirt's test driver refuses the flag: started, then paused before anything reads it
        call(domain.create)
        call(domain.suspend)
