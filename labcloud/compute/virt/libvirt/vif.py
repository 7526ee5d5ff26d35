"""Plugging a real guest's NICs into labcloud's datapath, after nova's ``libvirt/vif.py``.

nova's linuxbridge VIF gives each port a tap named ``tap<port id[:11]>`` and neutron's L2
agent, which watches for such taps, puts it into the network's bridge. libvirt makes the
tap (an ``ethernet`` interface) in its own network namespace, where QEMU runs; labcloud's
datapath keeps each compute host in a namespace of its own (``lc-<tag>-<host>``), so after
every start of the guest its taps move there, where the L2 agent finds them. A tap stays
QEMU's wherever it is moved: the guest's frames flow through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labcloud.netns import links
from labcloud.netns.fabric import Fabric


def taps(network_info: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(links.tap_name(vif.get("port_id") or vif["id"]) for vif in network_info)


class HostNamespacePlugger:
    """Moves guests' taps into the namespace of ``host`` in the datapath tagged ``tag``."""

    def __init__(self, tag: str, host: str) -> None:
        self.ns = Fabric(tag).host(host)

    def before_start(self, names: Iterable[str]) -> None:
        """A tap left from the guest's last run (a hard reboot) would block the new one."""
        self.unplug(names)

    def after_start(self, names: Iterable[str]) -> None:
        with links.iproute() as here, links.iproute(self.ns) as there:
            for name in names:
                if links.move_to(here, name, self.ns):
                    links.set_up(there, name)  # a move takes a link down

    def unplug(self, names: Iterable[str]) -> None:
        with links.iproute(self.ns) as there:
            for name in names:
                links.delete_link(there, name)
