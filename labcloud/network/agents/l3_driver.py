"""What an L3 agent does on its host: a namespace per router, with NAT.

``NamespaceRouters`` builds a router as neutron's L3 agent does (its RouterInfo and the
BridgeInterfaceDriver): namespace ``qrouter-<router id>`` (prefixed with the cloud's, see
labcloud.netns); per interface a veth whose ``tap<port id[:11]>`` end stays on the host, for
the L2 agent to plug into the network's bridge, and whose ``qr-<port id[:11]>`` end, in the
namespace, has the port's MAC and the subnet's gateway address; the gateway the same way as
``qg-<port id[:11]>`` on the external network, with the default route via the external
subnet's gateway and every floating IP as a /32 (so the router answers ARP for it);
forwarding on; iptables' nat table:

    PREROUTING, OUTPUT  -d <floating ip> -j DNAT --to-destination <fixed ip>
    float-snat          -s <fixed ip> -j SNAT --to-source <floating ip>
    snat (enable_snat)  -s <internal subnet> -o qg- -j SNAT --to-source <gateway ip>

``NoopL3`` keeps the routers it was given and builds nothing (the cloud without root).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any, Protocol

from labcloud.netns import links, nat, procs

INTERNAL, EXTERNAL = "qr-", "qg-"
CHAIN = "neutron-l3-agent-"  # neutron's wrapped chains: <binary name>-<chain>
CHAINS = [CHAIN + c for c in ("PREROUTING", "OUTPUT", "POSTROUTING", "snat", "float-snat")]


class L3Driver(Protocol):
    def process(self, router: dict[str, Any]) -> dict[str, str]:
        """Build ``router`` (sync_routers' form) or bring it up to date; returns each
        floating IP's status (ACTIVE, or ERROR when the router has no gateway)."""

    def remove(self, router_id: str) -> None:
        """Remove the router; safe to repeat."""

    def routers(self) -> set[str]:
        """The routers built on this host now (found on the host: after a crash too)."""

    def cleanup(self) -> None:
        """Remove every router."""


def fip_statuses(router: dict[str, Any]) -> dict[str, str]:
    status = "ACTIVE" if router["gw_port"] else "ERROR"
    return {f["id"]: status for f in router["_floatingips"]}


class NoopL3:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.built: dict[str, dict[str, Any]] = {}

    def process(self, router: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            self.built[router["id"]] = router
        return fip_statuses(router)

    def remove(self, router_id: str) -> None:
        with self._lock:
            self.built.pop(router_id, None)

    def routers(self) -> set[str]:
        with self._lock:
            return set(self.built)

    def cleanup(self) -> None:
        with self._lock:
            self.built.clear()


def device(prefix: str, port: dict[str, Any]) -> str:
    return prefix + str(port["id"])[:11]


def cidrs(port: dict[str, Any]) -> list[str]:
    """The port's IPv4 addresses with their subnets' prefix lengths."""
    lengths = {s["id"]: ipaddress.ip_network(s["cidr"]).prefixlen for s in port["subnets"]}
    return [
        f"{ip['ip_address']}/{lengths[ip['subnet_id']]}"
        for ip in port["fixed_ips"]
        if ipaddress.ip_address(ip["ip_address"]).version == 4
    ]


def nat_rules(router: dict[str, Any]) -> list[str]:
    """The router's nat table (neutron's rules, in neutron's chains)."""
    rules = [
        f"-A PREROUTING -j {CHAIN}PREROUTING",
        f"-A OUTPUT -j {CHAIN}OUTPUT",
        f"-A POSTROUTING -j {CHAIN}POSTROUTING",
        f"-A POSTROUTING -j {CHAIN}snat",
        f"-A {CHAIN}snat -j {CHAIN}float-snat",
    ]
    gw = router["gw_port"]
    if not gw:
        return rules
    qg = device(EXTERNAL, gw)
    # between the router's own networks: routed as they are, not NATed (neutron's rule)
    rules.append(f"-A {CHAIN}POSTROUTING ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT")
    for fip in router["_floatingips"]:
        outside, inside = fip["floating_ip_address"], fip["fixed_ip_address"]
        rules += [
            f"-A {CHAIN}PREROUTING -d {outside}/32 -j DNAT --to-destination {inside}",
            f"-A {CHAIN}OUTPUT -d {outside}/32 -j DNAT --to-destination {inside}",
            f"-A {CHAIN}float-snat -s {inside}/32 -j SNAT --to-source {outside}",
        ]
    if router["enable_snat"]:
        source = gw["fixed_ips"][0]["ip_address"]
        for port in router["_interfaces"]:
            for subnet in port["subnets"]:
                if ipaddress.ip_network(subnet["cidr"]).version == 4:
                    rules.append(
                        f"-A {CHAIN}snat -s {subnet['cidr']} -o {qg} -j SNAT --to-source {source}"
                    )
    return rules


class NamespaceRouters:
    def __init__(self, host_ns: str, ns_of: Callable[[str], str]) -> None:
        """``host_ns``: the host's namespace (where the bridges are); ``ns_of``: a router's
        namespace (``ns_of("")`` is the prefix every one of them has)."""
        self.host_ns = host_ns
        self.ns_of = ns_of

    def process(self, router: dict[str, Any]) -> dict[str, str]:
        ns = self.ns_of(router["id"])
        if ns not in links.namespaces(ns):
            links.ensure_namespace(ns)
            nat.enable_forwarding(ns)
        gw = router["gw_port"]
        wanted: dict[str, tuple[dict[str, Any], list[str]]] = {
            device(INTERNAL, p): (p, cidrs(p)) for p in router["_interfaces"]
        }
        if gw:
            floating = [f"{f['floating_ip_address']}/32" for f in router["_floatingips"]]
            wanted[device(EXTERNAL, gw)] = (gw, cidrs(gw) + floating)
        with links.iproute(ns) as ipr:
            on_qg_before = {
                a for name in links.link_names(ipr, EXTERNAL) for a in links.addresses(ipr, name)
            }
            for name in links.link_names(ipr, INTERNAL) + links.link_names(ipr, EXTERNAL):
                if name not in wanted:
                    links.delete_link(ipr, name)  # its tap on the host goes with it
        for name, (port, addresses) in wanted.items():
            self._plug(ns, name, port, addresses)
        with links.iproute(ns) as ipr:
            links.set_default_route(ipr, _gateway_ip(gw))
        nat.restore(ns, "nat", CHAINS, nat_rules(router))
        kept = set(wanted[device(EXTERNAL, gw)][1]) if gw else set()
        for cidr in sorted(on_qg_before - kept):
            if cidr.endswith("/32"):  # a floating IP taken away (found on qg-: after a crash too)
                nat.forget(ns, cidr.removesuffix("/32"))
        return fip_statuses(router)

    def _plug(self, ns: str, name: str, port: dict[str, Any], addresses: list[str]) -> None:
        """neutron's BridgeInterfaceDriver.plug: a veth from the host into the namespace."""
        tap = links.tap_name(port["id"])
        with links.iproute(self.host_ns) as ipr:
            if links.index_of(ipr, tap) is None:
                links.add_veth(ipr, tap, name, ns)
            links.set_up(ipr, tap)
        with links.iproute(ns) as ipr:
            links.set_up(ipr, name, mac=port["mac_address"])
            links.set_addresses(ipr, name, addresses)

    def remove(self, router_id: str) -> None:
        ns = self.ns_of(router_id)
        procs.kill_all(ns)
        links.delete_namespace(ns)  # its veths, and so their taps on the host, go with it

    def routers(self) -> set[str]:
        prefix = self.ns_of("")
        return {ns.removeprefix(prefix) for ns in links.namespaces(prefix)}

    def cleanup(self) -> None:
        for router_id in self.routers():
            self.remove(router_id)


def _gateway_ip(gw: dict[str, Any] | None) -> str | None:
    if not gw:
        return None
    for subnet in gw["subnets"]:
        if subnet["gateway_ip"] and ipaddress.ip_address(subnet["gateway_ip"]).version == 4:
            return str(subnet["gateway_ip"])
    return None
