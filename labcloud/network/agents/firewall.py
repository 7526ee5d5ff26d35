"""What the L2 agent asks of a firewall: filter each port it plugs by the port's security
groups (neutron's FirewallDriver, narrowed to what the linuxbridge agent calls).

A port here is one entry of the server's ``security_group_rules_for_devices`` answer
(network/secgroups_rpc.py) with its ``device`` (the tap) added. neutron calls its driver
once per port inside ``defer_apply()``; here a batch of ports is one call. A port with
port security off, or one neutron itself owns (``network:*``, the DHCP server's), is not
filtered: its traffic is let through (neutron's unfiltered and trusted ports).

``NoopFirewall`` is the reference: it keeps what it was asked to filter and touches nothing
(the in-kernel cloud without root). ``IptablesFirewall`` (iptables_firewall.py) is
neutron's iptables driver on the host's bridges.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any, Protocol

Port = dict[str, Any]


class FirewallDriver(Protocol):
    enable_ipset: bool  # remote groups' rules come unexpanded, their members apart

    def update_security_group_members(self, members: dict[str, dict[str, list[str]]]) -> None:
        """With ``enable_ipset``: the remote groups' addresses by ethertype, before the
        ports whose rules name them are filtered."""

    def prepare_port_filters(self, ports: list[Port]) -> None:
        """Filter these ports by their rules, replacing what they had; before the agent
        plugs a port into its bridge, so no packet passes unfiltered. The first call, even
        with no ports, removes what a crashed agent left (neutron's first apply)."""

    def remove_port_filters(self, devices: list[str]) -> None:
        """Stop filtering these devices and remove their rules; safe to repeat."""

    def ports(self) -> dict[str, Port]:
        """The ports it filters (or lets through) now, by device."""

    def cleanup(self) -> None:
        """Remove everything it made on the host; safe to repeat."""


def is_filtered(port: Port) -> bool:
    """Does the port get security group rules? (neutron: port security on, not trusted)"""
    owner = str(port.get("device_owner") or "")
    return bool(port.get("port_security_enabled", True)) and not owner.startswith("network:")


def link_local(mac: str) -> str:
    """The EUI-64 link-local address a MAC gives an interface (as the kernel makes it).

    >>> link_local("fa:16:3e:00:00:01")
    'fe80::f816:3eff:fe00:1'
    """
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02  # the universal/local bit, inverted
    eui64 = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui64))


class NoopFirewall:
    enable_ipset = False  # its ports keep their rules expanded, as the reference

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ports: dict[str, Port] = {}

    def update_security_group_members(self, members: dict[str, dict[str, list[str]]]) -> None:
        pass

    def prepare_port_filters(self, ports: list[Port]) -> None:
        with self._lock:
            self._ports |= {p["device"]: p for p in ports}

    def remove_port_filters(self, devices: list[str]) -> None:
        with self._lock:
            for device in devices:
                self._ports.pop(device, None)

    def ports(self) -> dict[str, Port]:
        with self._lock:
            return dict(self._ports)

    def cleanup(self) -> None:
        with self._lock:
            self._ports.clear()
