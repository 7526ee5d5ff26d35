"""CloudSpec: a cloud described, not built (as Mininet separates a Topo from the Mininet that
builds it). LabCloud(spec) builds and starts what the spec describes.

``CloudSpec.demo()`` is the cloud of the labs: two compute hosts, OpenStack's m1 flavors, a
cirros image, a ``demo`` project with ``admin`` and ``demo`` users (their passwords made for
each cloud), and a ``private`` network.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class HostSpec:
    name: str
    vcpus: int = 8
    ram_mb: int = 16384
    disk_gb: int = 160
    availability_zone: str = "nova"


@dataclass(frozen=True)
class FlavorSpec:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


# The flavors OpenStack has always shipped with (ids 1-5).
M1_FLAVORS = (
    FlavorSpec("1", "m1.tiny", 1, 512, 1),
    FlavorSpec("2", "m1.small", 1, 2048, 20),
    FlavorSpec("3", "m1.medium", 2, 4096, 40),
    FlavorSpec("4", "m1.large", 4, 8192, 80),
    FlavorSpec("5", "m1.xlarge", 8, 16384, 160),
)

# A tiny stand-in for the cirros disk: a real, empty qcow2 of 1 MiB (1,792 bytes, made by
# ``qemu-img create -f qcow2 -o cluster_size=512 cirros.qcow2 1M``), which qemu-img reads
# and converts as cinder does; not bootable. The libvirt driver registers a real guest.
CIRROS_DATA = zlib.decompress(
    base64.b64decode(
        "eNoLdPP8zcDAwMyACjjBpACcrwCh2KBcJhDByEAcYAHiAoZRMIgBy2gQjFTACIWjYBSMQAAA+CMCnQ=="
    )
)


@dataclass(frozen=True)
class ImageSpec:
    name: str
    data: bytes = CIRROS_DATA
    disk_format: str = "qcow2"
    container_format: str = "bare"
    visibility: str = "public"
    min_disk: int = 0
    min_ram: int = 0
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserSpec:
    """A user, its project and roles; ``password=None`` (the default): one is made for each
    cloud (``LabCloud.credentials(name)`` shows it), never a constant another student knows."""

    name: str
    password: str | None = None
    project: str = "demo"
    roles: tuple[str, ...] = ("member",)


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    cidr: str
    gateway_ip: str | None = None  # None: the first address of the subnet
    shared: bool = False
    project: str = "demo"


@dataclass(frozen=True)
class CloudSpec:
    hosts: tuple[HostSpec, ...] = ()
    flavors: tuple[FlavorSpec, ...] = M1_FLAVORS
    images: tuple[ImageSpec, ...] = ()
    projects: tuple[str, ...] = ("admin", "demo")
    users: tuple[UserSpec, ...] = ()
    networks: tuple[NetworkSpec, ...] = ()
    region: str = "RegionOne"
    # seconds a token lives (keystone's [token] expiration); None: the Settings' token_expiry
    token_expiration: int | None = None

    def but(self, **changes: Any) -> CloudSpec:
        return replace(self, **changes)

    @classmethod
    def demo(cls, hosts: int = 2) -> CloudSpec:
        """The labs' cloud: ``hosts`` compute hosts named compute1, compute2, ..."""
        return cls(
            hosts=tuple(HostSpec(f"compute{i}") for i in range(1, hosts + 1)),
            images=(ImageSpec("cirros"),),
            users=(
                UserSpec("admin", project="admin", roles=("admin", "member")),
                UserSpec("demo", project="demo", roles=("member",)),
            ),
            networks=(NetworkSpec("private", "10.0.0.0/24"),),
        )
