"""What a DHCP agent does on its host: a namespace and a dnsmasq per network.

``Dnsmasq`` is neutron's DHCP driver: namespace ``qdhcp-<network>`` (prefixed with the
cloud's, see labcloud.netns), a veth whose ``tap<port>`` end sits on the host for the L2
agent to plug into the network's bridge and whose ``ns-<port>`` end, in the namespace,
has the DHCP port's MAC and address; dnsmasq listens there. ``NoopDhcp`` keeps the table
of reservations only (the in-kernel cloud without root).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from labcloud.netns import links, procs
from labcloud.netns.dnsmasq import Dnsmasq, Lease
from labcloud.network.agents.l2 import tap_name

Changed = Mapping[str, dict[str, Any] | None]  # port id → the port now (None: deleted)


class DhcpDriver(Protocol):
    def enable(
        self, network: dict[str, Any], port: dict[str, Any], changed: Changed | None = None
    ) -> None:
        """Serve ``network`` (its subnets and ports) through the DHCP port ``port``;
        ``changed``: the only ports that changed since it was last served (None: any may
        have), so a driver keeping its table per port updates those entries alone."""

    def disable(self, network_id: str) -> None:
        """Stop serving it; safe to repeat."""

    def reservations(self, network_id: str) -> dict[str, str]:
        """MAC → IP the server would hand out."""

    def leases(self, network_id: str) -> list[Lease]:
        """What it handed out."""

    def cleanup(self) -> None: ...


class NoopDhcp:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[str, Reservations] = {}

    def enable(
        self, network: dict[str, Any], port: dict[str, Any], changed: Changed | None = None
    ) -> None:
        with self._lock:
            table = self._table.get(network["id"])
            if table is None or changed is None or not table.serves(network):
                self._table[network["id"]] = Reservations(network)
            else:
                table.update(changed)

    def disable(self, network_id: str) -> None:
        with self._lock:
            self._table.pop(network_id, None)

    def reservations(self, network_id: str) -> dict[str, str]:
        with self._lock:
            table = self._table.get(network_id)
            return dict(table.by_mac) if table else {}

    def leases(self, network_id: str) -> list[Lease]:
        return []

    def cleanup(self) -> None:
        with self._lock:
            self._table.clear()


class Reservations:
    """A network's reservations (MAC → address on a DHCP subnet), kept per port: a port
    event changes its port's entries, not a table rebuilt from every port (a thousand
    boots on one network were half a million entries built)."""

    def __init__(self, network: dict[str, Any]) -> None:
        self.dhcp = _dhcp_subnets(network)
        self.by_mac: dict[str, str] = {}
        self._macs: dict[str, list[str]] = {}  # port id → its MACs in by_mac
        self.update({p["id"]: p for p in network["ports"]})

    def serves(self, network: dict[str, Any]) -> bool:
        """Are these the network's DHCP subnets still (else: a new table)."""
        return self.dhcp == _dhcp_subnets(network)

    def update(self, changed: Changed) -> None:
        for port_id, port in changed.items():
            for mac in self._macs.pop(port_id, ()):
                self.by_mac.pop(mac, None)
            if port is None or port["device_owner"] == "network:dhcp":
                continue
            dhcp = [ip["ip_address"] for ip in port["fixed_ips"] if ip["subnet_id"] in self.dhcp]
            if dhcp:  # the last address on a DHCP subnet, as a table of every port has it
                self.by_mac[port["mac_address"]] = dhcp[-1]
                self._macs[port_id] = [port["mac_address"]]


def _dhcp_subnets(network: dict[str, Any]) -> set[str]:
    return {s["id"] for s in network["subnets"] if s["enable_dhcp"]}


def _reservations(network: dict[str, Any]) -> dict[str, str]:
    dhcp = {s["id"] for s in network["subnets"] if s["enable_dhcp"]}
    return {
        p["mac_address"]: ip["ip_address"]
        for p in network["ports"]
        if p["device_owner"] != "network:dhcp"
        for ip in p["fixed_ips"]
        if ip["subnet_id"] in dhcp
    }


class DnsmasqDhcp:
    def __init__(self, host_ns: str, ns_of: Callable[[str], str], conf_dir: Path) -> None:
        """``host_ns``: the host's namespace (where the bridges are); ``ns_of``: the
        namespace for a network's DHCP server."""
        self.host_ns = host_ns
        self.ns_of = ns_of
        self.conf_dir = conf_dir
        self._lock = threading.Lock()
        self._servers: dict[str, Dnsmasq] = {}
        self._networks: dict[str, dict[str, Any]] = {}

    def enable(
        self, network: dict[str, Any], port: dict[str, Any], changed: Changed | None = None
    ) -> None:
        """dnsmasq's hosts file holds every reservation (rewritten whole, then SIGHUP)."""
        ns = self.ns_of(network["id"])
        inside = "ns-" + port["id"][:11]
        with self._lock:
            server = self._servers.get(network["id"])
            if server is None:
                self._plug(ns, inside, network, port)
                server = self._servers[network["id"]] = Dnsmasq(
                    network["id"], ns, inside, self.conf_dir
                )
            self._networks[network["id"]] = network
            server.write(
                network["subnets"],
                [p for p in network["ports"] if p["device_owner"] != "network:dhcp"],
            )
            server.reload()  # SIGHUP, or the first start

    def _plug(self, ns: str, inside: str, network: dict[str, Any], port: dict[str, Any]) -> None:
        """neutron's BridgeInterfaceDriver.plug: a veth from the host into the namespace."""
        links.ensure_namespace(ns)
        with links.iproute(self.host_ns) as ipr:
            links.add_veth(ipr, tap_name(port["id"]), inside, ns)
            links.set_up(ipr, tap_name(port["id"]))
        cidrs = {s["id"]: s["cidr"] for s in network["subnets"]}
        with links.iproute(ns) as ipr:
            links.set_up(ipr, inside, mac=port["mac_address"])
            for ip in port["fixed_ips"]:
                prefix = ipaddress.ip_network(cidrs[ip["subnet_id"]]).prefixlen
                links.add_address(ipr, inside, f"{ip['ip_address']}/{prefix}")

    def disable(self, network_id: str) -> None:
        with self._lock:
            server = self._servers.pop(network_id, None)
            self._networks.pop(network_id, None)
        if server is not None:
            server.stop()
        ns = self.ns_of(network_id)
        procs.kill_all(ns)
        links.delete_namespace(ns)  # the veth goes with it, and so its tap on the host

    def reservations(self, network_id: str) -> dict[str, str]:
        with self._lock:
            network = self._networks.get(network_id)
        return _reservations(network) if network else {}

    def leases(self, network_id: str) -> list[Lease]:
        with self._lock:
            server = self._servers.get(network_id)
        return server.leases() if server else []

    def server(self, network_id: str) -> Dnsmasq | None:
        with self._lock:
            return self._servers.get(network_id)

    def cleanup(self) -> None:
        with self._lock:
            ids = list(self._servers)
        for network_id in ids:
            self.disable(network_id)
