"""Network segments, as ML2's type drivers hand them out: what a network is on the wire.

- ``flat``: untagged on a physical network (``physnet1``), one flat network per physical
  network. The seed's Flat and FlatDHCP modes (DHCP on or off on its subnet).
- ``vlan``: 802.1Q tag ``segmentation_id`` (1-4094) on a physical network. The seed's VLAN
  mode. Where the kernel has no 8021q module (labcloud's CI machine), the linuxbridge agent
  carries it as VXLAN with VNI = the VLAN id instead, and says so.
- ``vxlan``: a tenant network (neutron's default tenant_network_types), VNI allocated from
  ``VNI_RANGE``, which starts above every VLAN id so the two never share a VNI.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labcloud.exceptions import Conflict, Invalid
from labcloud.network.models import Network

DEFAULT_PHYSNET = "physnet1"
VNI_RANGE = range(5001, 10000)  # neutron's [ml2_type_vxlan] vni_ranges
TYPES = ("flat", "vlan", "vxlan")


class FlatNetworkInUse(Conflict):
    msg_fmt = "Unable to create the flat network. Physical network %(physnet)s is in use."


class VlanIdInUse(Conflict):
    msg_fmt = (
        "Unable to create the network. The VLAN %(vlan_id)s on physical network "
        "%(physnet)s is in use."
    )


class NoNetworkAvailable(Conflict):
    msg_fmt = "Unable to create the network. No tenant network is available for allocation."


def allocate(s: Session, body: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """(network_type, physical_network, segmentation_id) for a new network."""
    kind = body.get("provider:network_type") or "vxlan"
    if kind not in TYPES:
        raise Invalid(f"Invalid input: network_type {kind!r} (labcloud has {', '.join(TYPES)}).")
    taken = [
        (n.network_type, n.physical_network, n.segmentation_id) for n in s.scalars(select(Network))
    ]
    if kind == "vxlan":
        used = {seg for t, _, seg in taken if t == "vxlan"}
        wanted = body.get("provider:segmentation_id")
        if wanted is not None:
            if int(wanted) in used:
                raise Conflict(f"Unable to create the network. The VNI {wanted} is in use.")
            return kind, None, int(wanted)
        vni = next((v for v in VNI_RANGE if v not in used), None)
        if vni is None:
            raise NoNetworkAvailable()
        return kind, None, vni
    physnet = body.get("provider:physical_network") or DEFAULT_PHYSNET
    if kind == "flat":
        if any(t == "flat" and p == physnet for t, p, _ in taken):
            raise FlatNetworkInUse(physnet=physnet)
        return kind, physnet, None
    vlan = body.get("provider:segmentation_id")
    if vlan is None or not 1 <= int(vlan) <= 4094:
        raise Invalid("Invalid input: a vlan network needs provider:segmentation_id 1-4094.")
    if any(t == "vlan" and p == physnet and seg == int(vlan) for t, p, seg in taken):
        raise VlanIdInUse(vlan_id=vlan, physnet=physnet)
    return kind, physnet, int(vlan)


KEYS = ("network_type", "physical_network", "segmentation_id")  # a segment's, as agents get it


def of(net: Network) -> dict[str, Any]:
    return {k: getattr(net, k) for k in KEYS}


def of_view(network: dict[str, Any]) -> dict[str, Any]:
    """The segment of a network as the API shows it (``provider:network_type`` ...)."""
    return {k: network[f"provider:{k}"] for k in KEYS}
