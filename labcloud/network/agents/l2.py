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
from collections.abc import Callable
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

    def plug(self, devices: list[dict[str, Any]]) -> list[str]:
        """Put each device (its details) into its network's bridge, making the bridge if
        needed: one round's new devices at once. Returns the devices plugged (one that
        vanished meanwhile is not)."""

    def unplugged(self, devices: list[str]) -> None:
        """The devices are gone (or their ports deleted): remove bridges left empty."""

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` whenever the host's devices may have changed, until the
        returned function is called (a datapath with nothing to watch never calls it)."""

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

    def plug(self, devices: list[dict[str, Any]]) -> list[str]:
        return [d["device"] for d in devices]

    def unplugged(self, devices: list[str]) -> None:
        with self._lock:
            self._devices -= set(devices)

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        return lambda: None  # the server's port_update wakes the agent

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
        return set(links.names_in(self.ns, TAP))

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        """A thread ringing ``wake`` at each link notification in the host's namespace: a
        tap the hypervisor made is plugged at once, not at the next poll."""
        events = links.LinkEvents(self.ns)

        def ring() -> None:
            while events.wait():
                wake()

        threading.Thread(target=ring, name=f"link-events-{self.ns}", daemon=True).start()
        return events.close

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

    def plug(self, devices: list[dict[str, Any]]) -> list[str]:
        """Every device of the round on one netlink socket; each network's bridge and
        link made (or checked) once."""
        plugged = []
        with links.iproute(self.ns) as ipr:
            ready: set[str] = set()
            for details in devices:
                if links.index_of(ipr, details["device"]) is None:
                    continue  # gone since the scan: not plugged, never said up
                bridge = bridge_name(details["network_id"])
                if bridge not in ready:
                    self._ensure_bridge(ipr, bridge, details)
                    ready.add(bridge)
                links.set_up(ipr, details["device"], master=bridge)
                plugged.append(details["device"])
        return plugged

    def _ensure_bridge(self, ipr: Any, bridge: str, details: dict[str, Any]) -> None:
        link, how = self.segment_link(details)
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

    def unplugged(self, devices: list[str]) -> None:
        with links.iproute(self.ns) as ipr:
            for device in devices:
                links.delete_link(ipr, device)
            for bridge in links.names_in(self.ns, BRIDGE):
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
