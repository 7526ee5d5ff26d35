"""A remote group's members as one ipset in the host's namespace (neutron's IpsetManager,
neutron/agent/linux/ipset_manager.py, used by its iptables firewall when ``enable_ipset``).

A rule "from members of group G" would otherwise be one iptables rule per member in every
port's chain: a group of n ports on a host is n × n rules, rewritten whenever a member
comes or goes. With a set, the port's chain has one rule, ``-m set --match-set NIPv4<G>
src``, and a member joining or leaving is one ``add``/``del`` in the set: the chains stay as
they are. A set is named as neutron names it: ``N``, the ethertype and the group's id, cut
to 29 characters (ipset allows 31, and ``-n`` is added to the copy swapped in).

A set this manager has not written yet (the agent's first round: a crashed agent's set
may remain) is filled as a copy and swapped in, so it never stands half-filled; after that
only the changes are written. Unlike neutron, which runs one ``ipset`` process per member
added or removed below five changes, every change of a round is one ``ipset restore``.
Sets live in the namespace: a host's namespace deleted takes its sets along.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from labcloud.network.agents.netfilter import Netfilter

NET_PREFIX, SWAP_SUFFIX = "N", "-n"
NAME_MAX = 31 - len(SWAP_SUFFIX)


def set_name(group: str, ethertype: str) -> str:
    """``NIPv4`` and the group id, as iptables names the set."""
    return (NET_PREFIX + ethertype + group)[:NAME_MAX]


def match(group: str, ethertype: str, direction: str) -> str:
    """The iptables match of a rule naming ``group``: its members are the packet's source
    (ingress) or destination (egress)."""
    side = "src" if direction == "ingress" else "dst"
    return f"-m set --match-set {set_name(group, ethertype)} {side}"


def entries(addresses: Iterable[str]) -> set[str]:
    """Addresses as a hash:net set takes them: a /0 (which it refuses) as two /1s."""
    found = set()
    for address in addresses:
        net = ipaddress.ip_network(address, strict=False)
        if net.prefixlen == 0:
            found |= {str(half) for half in net.subnets()}
        else:
            found.add(str(net) if net.num_addresses > 1 else str(net.network_address))
    return found


class IpsetManager:
    def __init__(self, tools: Netfilter) -> None:
        self.tools = tools
        self._sets: dict[str, set[str]] = {}  # what each set written holds

    def names(self) -> set[str]:
        return set(self._sets)

    def set_members(self, wanted: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
        """Bring each named set to these addresses (creating it), in one ``ipset
        restore``; the addresses each set lost."""
        lines: list[str] = []
        removed: dict[str, set[str]] = {}
        for name, addresses in sorted(wanted.items()):
            new = entries(addresses)
            family = "inet6" if name.startswith(f"{NET_PREFIX}IPv6") else "inet"
            old = self._sets.get(name)
            if old is None:  # a copy filled then swapped in: never half-filled
                swap = name + SWAP_SUFFIX
                lines += [f"create {name} hash:net family {family}"]
                lines += [f"create {swap} hash:net family {family}", f"flush {swap}"]
                lines += [f"add {swap} {a}" for a in sorted(new)]
                lines += [f"swap {swap} {name}", f"destroy {swap}"]
            elif old != new:
                lines += [f"add {name} {a}" for a in sorted(new - old)]
                lines += [f"del {name} {a}" for a in sorted(old - new)]
                removed[name] = old - new
            self._sets[name] = new
        if lines:
            self.tools.check(["ipset", "restore", "-exist"], "\n".join([*lines, ""]))
        return removed

    def destroy_unused(self, used: set[str]) -> None:
        """Destroy the sets written that no rule names now (after the tables stopped
        naming them: a set iptables refers to cannot be destroyed)."""
        unused = sorted(set(self._sets) - used)
        self._destroy(unused)
        for name in unused:
            del self._sets[name]

    def cleanup(self) -> None:
        """Destroy every ``NIPv4``/``NIPv6`` set in the namespace, a crashed agent's too
        (after the chains naming them are gone)."""
        self._sets.clear()
        listing = self.tools.run(["ipset", "list", "-n"]).stdout.split()
        self._destroy(
            [n for n in listing if n.startswith((f"{NET_PREFIX}IPv4", f"{NET_PREFIX}IPv6"))]
        )

    def _destroy(self, names: list[str]) -> None:
        """These sets destroyed, in one ``ipset restore``."""
        if names:
            self.tools.check(
                ["ipset", "restore", "-exist"], "".join(f"destroy {n}\n" for n in names)
            )
