"""Which datapath neutron's agents drive, and the drivers each agent gets for it.

``noop``: agents, RPC and port states as neutron has them, nothing built, no firewall (the
in-kernel cloud without root, and the process cloud by default). ``linuxbridge``: bridges,
VXLAN, dnsmasq and routers with iptables NAT in the namespaces of a ``Fabric`` (see
labcloud.netns), security groups enforced by iptables in each host's namespace.

A ``Datapath`` is what the agents of one cloud share: the fabric (None for ``noop``) and where
dnsmasq keeps its files. The in-kernel cloud makes one; every agent's factory asks it for its
drivers, so the L2 agent of ``compute1`` and the DHCP agent of ``controller`` build in the same
fabric whichever process they run in.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labcloud.netns import links
from labcloud.netns.fabric import PHYSNET, Fabric
from labcloud.netns.links import DatapathError
from labcloud.network.agents.dhcp_driver import DhcpDriver, DnsmasqDhcp, NoopDhcp
from labcloud.network.agents.firewall import FirewallDriver, NoopFirewall
from labcloud.network.agents.iptables_firewall import IptablesFirewall
from labcloud.network.agents.l2 import L2Datapath, LinuxBridge, NoopL2
from labcloud.network.agents.l3_driver import L3Driver, NamespaceRouters, NoopL3
from labcloud.network.agents.netfilter import PACKAGES

DATAPATHS = ("noop", "linuxbridge")
# Debian: iproute2 dnsmasq-base busybox iputils-ping, and the firewall's (netfilter.PACKAGES)
TOOLS = ("ip", "dnsmasq", "busybox", "ping", *PACKAGES)


def choose_datapath(wanted: str = "auto") -> tuple[str, str]:
    """("noop" or "linuxbridge", why). ``auto``: linuxbridge when this process is root and
    has the tools, else noop; ``linuxbridge`` raises when it cannot be had."""
    if wanted not in ("auto", *DATAPATHS):
        raise ValueError(f"unknown datapath {wanted!r} (labcloud has: {', '.join(DATAPATHS)})")
    if wanted == "noop":
        return "noop", (
            "the no-op datapath was asked for: ports go ACTIVE, nothing is built, "
            "security groups are kept but not enforced"
        )
    ok, why = links.available()
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if ok and missing:
        ok, why = False, f"missing {', '.join(missing)}"
    if ok:
        return "linuxbridge", (
            "linuxbridge in namespaces: bridges, VXLAN, dnsmasq, pingable guests, "
            "security groups enforced by iptables"
        )
    if wanted == "linuxbridge":
        raise DatapathError(reason=f"the linuxbridge datapath needs root and tools: {why}")
    return "noop", (
        f"no-op datapath ({why}): instances cannot be pinged, security groups are not enforced"
    )


@dataclass
class Datapath:
    """The agents' drivers: ``fabric`` None is the no-op datapath."""

    fabric: Fabric | None = None
    state_dir: Path | None = None  # dnsmasq's files: dhcp-<tag>/ under it
    reason: str = "noop"

    @property
    def name(self) -> str:
        return "noop" if self.fabric is None else "linuxbridge"

    def l2(self, host: str) -> L2Datapath:
        return NoopL2() if self.fabric is None else LinuxBridge(self.fabric.host(host))

    def firewall(self, host: str, *, enable_ipset: bool = True) -> FirewallDriver:
        """``enable_ipset``: ``[securitygroup] enable_ipset`` (the no-op firewall has none)."""
        if self.fabric is None:
            return NoopFirewall()
        return IptablesFirewall(self.fabric.host(host), enable_ipset=enable_ipset)

    def dhcp(self, host: str) -> DhcpDriver:
        fabric = self.fabric
        if fabric is None:
            return NoopDhcp()
        assert self.state_dir is not None, "the linuxbridge datapath needs a state directory"
        return DnsmasqDhcp(
            fabric.host(host),
            lambda net: fabric.ns(f"qdhcp-{net}"),
            self.state_dir / f"dhcp-{fabric.tag}",
        )

    def l3(self, host: str) -> L3Driver:
        fabric = self.fabric
        if fabric is None:
            return NoopL3()
        return NamespaceRouters(fabric.host(host), lambda r: fabric.ns(f"qrouter-{r}"))

    def l2_configurations(self, host: str, firewall: FirewallDriver) -> dict[str, Any]:
        """What an L2 agent reports in its state (``openstack network agent show``)."""
        found: dict[str, Any] = {"datapath": self.name, "firewall_driver": type(firewall).__name__}
        if self.fabric is not None:
            found |= {
                "tunneling_ip": self.fabric.tunnel_ip(host),
                "interface_mappings": {PHYSNET: "phy0"},
                "tunnel_types": ["vxlan"],
            }
        return found

    def host_namespace(self, host: str) -> str | None:
        """The network namespace playing ``host`` (None: no datapath)."""
        return self.fabric.host(host) if self.fabric is not None else None

    def destroy(self) -> None:
        if self.fabric is not None:
            self.fabric.destroy()
