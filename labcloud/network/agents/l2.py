"""What an L2 agent does to a host: find its taps, plug them into their network's bridge.

``LinuxBridge`` does it as neutron's linuxbridge agent does, with pyroute2 in the host's
namespace: a bridge ``brq<network id[:11]>`` per network, holding the network's link to
the other hosts (flat: the physical interface itself; vlan: ``<phys>.<vlan id>`` where the
kernel has 802.1Q, else ``vxlan-<vlan id>``; vxlan: ``vxlan-<vni>`` over the data
interface) and the taps ``tap<port id[:11]>`` of its ports. ``NoopL2`` touches nothing: its
"taps" are the ports bound to its host that the server told it about (a fake hypervisor
plugs nothing), so ports still go DOWN → BUILD → ACTIVE through the same RPC.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from labcloud.netns import links

LOG = logging.getLogger(__name__)
TAP, BRIDGE, VXLAN = "tap", "brq", "vxlan-"


tap_name = links.tap_name  # nova's name for a port's tap, which these agents look for


def bridge_name(network_id: str) -> str:
    return BRIDGE + network_id[:11]


class L2Datapath(Protocol):
    def devices(self) -> set[str]:
        """The taps on this host now."""

    def port_bound(self, port: dict[str, Any]) -> None:
        """The server says ``port`` is bound to this host."""

    def port_deleted(self, port_id: str) -> None:
        """The server deleted the port."""

    def plug(self, details: dict[str, Any]) -> None:
        """Put the device into its network's bridge, making the bridge if needed."""

    def unplugged(self, device: str) -> None:
        """The device is gone (or its port deleted): remove bridges left empty."""

    def delete_network(self, network_id: str) -> None:
        """Remove the network's bridge and links; safe to repeat."""

    def cleanup(self) -> None:
        """Remove everything this datapath made on the host."""


class NoopL2:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: set[str] = set()

    def devices(self) -> set[str]:
        with self._lock:
            return set(self._devices)

    def port_bound(self, port: dict[str, Any]) -> None:
        with self._lock:
            self._devices.add(tap_name(port["id"]))

    def port_deleted(self, port_id: str) -> None:
        with self._lock:
            self._devices.discard(tap_name(port_id))

    def plug(self, details: dict[str, Any]) -> None:
        return None

    def unplugged(self, device: str) -> None:
        with self._lock:
            self._devices.discard(device)

    def delete_network(self, network_id: str) -> None:
        return None

    def cleanup(self) -> None:
        with self._lock:
            self._devices.clear()


class LinuxBridge:
    def __init__(
        self,
        ns: str,
        *,
        mappings: dict[str, str] | None = None,
        tunnel_dev: str = "data0",
        vxlan_group: str = "239.1.1.1",
    ) -> None:
        """``ns``: the host's namespace; ``mappings``: physical network → interface
        (neutron's physical_interface_mappings); ``tunnel_dev``: VXLAN's underlay."""
        self.ns = ns
        self.mappings = mappings or {"physnet1": "phy0"}
        self.tunnel_dev = tunnel_dev
        self.vxlan_group = vxlan_group
        self.vlan_supported = self._probe_vlan()

    def _probe_vlan(self) -> bool:
        """Does the kernel do 802.1Q? (labcloud's CI kernel does not: no 8021q module)."""
        phys = next(iter(self.mappings.values()))
        try:
            with links.iproute(self.ns) as ipr:
                ipr.link(
                    "add",
                    ifname="lcprobe.1",
                    kind="vlan",
                    link=links.index_of(ipr, phys),
                    vlan_id=1,
                )
                links.delete_link(ipr, "lcprobe.1")
            return True
        except links.DatapathError:
            LOG.warning(
                "no 802.1Q in this kernel: vlan networks are carried as VXLAN (VNI = VLAN id)"
            )
            return False

    def devices(self) -> set[str]:
        with links.iproute(self.ns) as ipr:
            return set(links.link_names(ipr, TAP))

    def port_bound(self, port: dict[str, Any]) -> None:
        return None  # the hypervisor makes the tap; the next scan finds it

    def port_deleted(self, port_id: str) -> None:
        return None  # the hypervisor removes the tap; the next scan misses it

    def segment_link(self, details: dict[str, Any]) -> tuple[str, str]:
        """(the link carrying the network off this host, how it is made)."""
        kind, seg = details["network_type"], details["segmentation_id"]
        if kind == "flat":
            return self.mappings[details["physical_network"]], "physical"
        if kind == "vlan" and self.vlan_supported:
            return f"{self.mappings[details['physical_network']]}.{seg}", "vlan"
        return f"{VXLAN}{seg}", "vxlan"

    def plug(self, details: dict[str, Any]) -> None:
        bridge = bridge_name(details["network_id"])
        link, how = self.segment_link(details)
        with links.iproute(self.ns) as ipr:
            links.ensure_bridge(ipr, bridge)
            if how == "vxlan":
                links.ensure_vxlan(
                    ipr, link, int(link.removeprefix(VXLAN)), self.tunnel_dev, self.vxlan_group
                )
            elif how == "vlan" and links.index_of(ipr, link) is None:
                phys, vid = link.rsplit(".", 1)
                ipr.link(
                    "add",
                    ifname=link,
                    kind="vlan",
                    link=links.index_of(ipr, phys),
                    vlan_id=int(vid),
                )
            links.set_up(ipr, link, master=bridge)
            links.set_up(ipr, details["device"], master=bridge)

    def unplugged(self, device: str) -> None:
        with links.iproute(self.ns) as ipr:
            links.delete_link(ipr, device)
            for bridge in links.link_names(ipr, BRIDGE):
                if not any(p.startswith(TAP) for p in links.bridge_ports(ipr, bridge)):
                    self._remove_bridge(ipr, bridge)

    def delete_network(self, network_id: str) -> None:
        with links.iproute(self.ns) as ipr:
            self._remove_bridge(ipr, bridge_name(network_id))

    def _remove_bridge(self, ipr: Any, bridge: str) -> None:
        """The bridge and its VXLAN or VLAN link (a physical interface just leaves it)."""
        for port in links.bridge_ports(ipr, bridge):
            if port.startswith(VXLAN) or "." in port:
                links.delete_link(ipr, port)
        links.delete_link(ipr, bridge)

    def cleanup(self) -> None:
        with links.iproute(self.ns) as ipr:
            for bridge in links.link_names(ipr, BRIDGE):
                self._remove_bridge(ipr, bridge)
            for name in links.link_names(ipr, VXLAN):
                links.delete_link(ipr, name)
