"""One host's domains and their files: what the driver's methods are made of.

Each instance has a directory under ``instances_path`` holding its root disk, its console
log and ``guest.json`` (the GuestSpec its domain XML is written from, so a resize or a volume
change can write the XML again). Several labcloud hosts can share one libvirtd: a domain
belongs to the host named in its metadata, and a host sees only its own.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt

from labcloud.compute.virt.driver import InstanceNotOnHypervisor, VirtDriverError
from labcloud.compute.virt.libvirt import guest
from labcloud.compute.virt.libvirt import host as libvirt_host


def call(action: Callable[..., Any], *args: Any) -> Any:
    """A libvirt call whose error becomes labcloud's VirtDriverError."""
    try:
        return action(*args)
    except libvirt.libvirtError as exc:
        raise VirtDriverError(reason=str(exc)) from exc


class Domains:
    def __init__(self, host: str, uri: str, instances_path: Path) -> None:
        self.host = host
        self.uri = uri
        self.instances_path = instances_path
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is None or not self._conn.isAlive():
                try:
                    self._conn = libvirt_host.connect(self.uri)
                except libvirt.libvirtError as exc:
                    raise VirtDriverError(reason=f"libvirt at {self.uri}: {exc}") from exc
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def dir(self, uuid: str, suffix: str = "") -> Path:
        return self.instances_path / f"{uuid}{suffix}"

    def find(self, uuid: str, any_host: bool = False) -> libvirt.virDomain | None:
        """The instance's domain on this host (on any host: ``any_host``), or None."""
        try:
            domain = self.conn.lookupByName(guest.domain_name(uuid))
            if any_host:
                return domain
            metadata = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, guest.NAMESPACE)
        except libvirt.libvirtError:
            return None
        return domain if guest.host_of(metadata) == self.host else None

    def get(self, uuid: str) -> libvirt.virDomain:
        domain = self.find(uuid)
        if domain is None:
            raise InstanceNotOnHypervisor(uuid=uuid)
        return domain

    def uuids(self) -> list[str]:
        return [
            d.UUIDString()
            for d in self.conn.listAllDomains()
            if d.name().startswith("instance-") and self.find(d.UUIDString()) is not None
        ]

    def spec(self, uuid: str, suffix: str = "") -> guest.GuestSpec:
        path = self.dir(uuid, suffix) / "guest.json"
        if not path.exists():
            raise InstanceNotOnHypervisor(uuid=uuid)
        return guest.GuestSpec.load(path)

    def define(self, spec: guest.GuestSpec) -> libvirt.virDomain:
        """(Re)define the domain from ``spec``, and keep ``spec`` beside its disk."""
        spec.save(Path(spec.disk).parent / "guest.json")
        return call(self.conn.defineXML, guest.domain_xml(spec))

    def undefine(self, uuid: str) -> None:
        """Stop and forget this host's domain (and a suspended guest's saved memory)."""
        domain = self.find(uuid)
        try:
            if domain is not None:
                if domain.isActive():
                    domain.destroy()
                domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        except libvirt.libvirtError as exc:
            if self.find(uuid) is not None:  # gone meanwhile is fine: destroy repeats
                raise VirtDriverError(reason=str(exc)) from exc

    def remove_files(self, uuid: str, suffix: str = "") -> None:
        """Delete the instance's directory, unless a domain (of any host) still uses it."""
        if suffix or self.find(uuid, any_host=True) is None:
            shutil.rmtree(self.dir(uuid, suffix), ignore_errors=True)

    def shutdown(self, domain: libvirt.virDomain, timeout: float) -> None:
        """Press the ACPI power button; pull the plug if the guest has not gone in time."""
        if not domain.isActive():
            return
        call(domain.shutdown)
        deadline = time.monotonic() + timeout
        while domain.isActive() and time.monotonic() < deadline:
            threading.Event().wait(0.1)  # libvirt's events would need an event-loop thread
        if domain.isActive():
            call(domain.destroy)
