"""One factory per OpenStack binary, each built from its project's settings alone.

    binary = BINARIES["nova-compute"].build(load("/etc/labcloud/labcloud.conf", "nova"))
    binary.start() ... binary.stop()

``labcloud run NAME --config FILE`` runs one in the foreground (runner.py), ``labcloud up
--processes`` runs them all under a supervisor (supervisor.py), and the in-kernel LabCloud
builds every one with the same factories, over what it shares (shared.py, inkernel.py,
inkernel_neutron.py). ``bootstrap.py`` is what a deployer does once (keystone-manage bootstrap, the
service users, the catalog, the demo's flavors, image and network); ``dbsync.py`` is
``nova-manage db sync``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the factories' code is imported when one is built, not by the CLI
    from labcloud.binaries.base import Binary
    from labcloud.conf.options import ServiceConf


@dataclass(frozen=True)
class BinaryInfo:
    name: str
    project: str
    factory: str  # "module:function" in labcloud.binaries, imported when built
    per_host: bool = False  # one per compute host (nova-compute, the L2 agent)

    def build(self, conf: ServiceConf) -> Binary:
        import importlib

        module, _, function = self.factory.partition(":")
        make: Callable[[ServiceConf], Binary] = getattr(
            importlib.import_module(f"labcloud.binaries.{module}"), function
        )
        return make(conf)


# in start order: keystone first (the others read its catalog), computes last
BINARIES: dict[str, BinaryInfo] = {
    b.name: b
    for b in (
        BinaryInfo("keystone", "keystone", "identity:keystone"),
        BinaryInfo("glance-api", "glance", "identity:glance_api"),
        BinaryInfo("neutron-server", "neutron", "network:neutron_server"),
        BinaryInfo("neutron-dhcp-agent", "neutron", "network:dhcp_agent"),
        BinaryInfo("neutron-l3-agent", "neutron", "network:l3_agent"),
        BinaryInfo("neutron-linuxbridge-agent", "neutron", "network:linuxbridge_agent", True),
        BinaryInfo("cinder-api", "cinder", "volume:cinder_api"),
        BinaryInfo("cinder-scheduler", "cinder", "volume:cinder_scheduler"),
        BinaryInfo("cinder-volume", "cinder", "volume:cinder_volume"),
        BinaryInfo("nova-api", "nova", "compute:nova_api"),
        BinaryInfo("nova-conductor", "nova", "compute:nova_conductor"),
        BinaryInfo("nova-scheduler", "nova", "compute:nova_scheduler"),
        BinaryInfo("nova-compute", "nova", "compute:nova_compute", True),
    )
}

# each project's own user, as DevStack creates them: services validate tokens with theirs
# (nova's is keystone's NOVA_USER, whom it lets see other services' tokens)
SERVICE_USERS = {
    "compute": "nova",
    "image": "glance",
    "network": "neutron",
    "volumev3": "cinder",
}

__all__ = ["BINARIES", "SERVICE_USERS", "BinaryInfo"]
