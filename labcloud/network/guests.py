"""For labs: reach the fake hypervisor's guests (namespaces, see compute/virt/netns.py).

``ping(server, from_=other)`` runs ping inside ``other``'s namespace; with no ``from_`` it
runs in the DHCP namespace of the server's network, as an operator does on a real neutron
network node (``ip netns exec qdhcp-<net> ping ...``); as there, the server's security
groups must let ICMP in from it (the default group admits only its members).
``exec(server, cmd)`` runs a command inside the guest. A server is its uuid or nova's dict
of it (with ``id``).
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid
from labcloud.netns import links, procs
from labcloud.netns.fabric import Fabric
from labcloud.network.ports import PortManager

ADMIN = RequestContext(is_admin=True, roles=("admin",))
Server = str | dict[str, Any]


def _uuid(server: Server) -> str:
    return server if isinstance(server, str) else str(server["id"])


class GuestAccess:
    def __init__(self, fabric: Fabric | None, ports: PortManager) -> None:
        self.fabric = fabric
        self.ports = ports

    def _fabric(self) -> Fabric:
        if self.fabric is None:
            raise Invalid(
                "This cloud has no datapath (the no-op one: not root, or not asked for): "
                "its instances are rows in a database, with nothing to ping."
            )
        return self.fabric

    def namespace(self, server: Server) -> str:
        return self._fabric().ns(f"i-{_uuid(server)}")

    def port(self, server: Server) -> dict[str, Any]:
        found = self.ports.list_ports(ADMIN, {"device_id": _uuid(server)})
        if not found:
            raise Invalid(f"Server {_uuid(server)} has no port.")
        return found[0]

    def address(self, server: Server) -> str:
        return str(self.port(server)["fixed_ips"][0]["ip_address"])

    def ping(self, server: Server, from_: Server | None = None, count: int = 1) -> bool:
        """Does ``server`` answer ping from ``from_`` (another server, or its DHCP server)?"""
        target = self.port(server)
        if from_ is None:
            ns = self._fabric().ns(f"qdhcp-{target['network_id']}")
        else:
            ns = self.namespace(from_)
        if ns not in links.namespaces(ns):
            raise Invalid(f"No namespace {ns} to ping from.")
        argv = ["ping", "-c", str(count), "-W", "1", target["fixed_ips"][0]["ip_address"]]
        return procs.run(ns, argv, timeout=count + 5).returncode == 0

    def exec(
        self, server: Server, cmd: str | list[str], timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the guest (``ip addr``, ``curl http://10.0.0.5/`` ...)."""
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        return procs.run(self.namespace(server), argv, timeout=timeout)
