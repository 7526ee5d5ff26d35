"""Flows cut when the rule that let them in goes (neutron's IpConntrackManager,
neutron/agent/linux/ip_conntrack.py, driven by its iptables firewall).

The firewall is stateful: a packet of a flow conntrack already knows (ESTABLISHED) is let
through before any rule is looked at. Removing a rule from the tables therefore stops new
flows only; a ``ping`` or a TCP connection it allowed goes on for as long as it keeps
talking. So after each change of the tables, the conntrack entries of the flows that only
removed rules allowed are deleted, with ``conntrack -D`` in the host's namespace and the
network's zone (the zones keep networks with the same addresses apart); the next packet of
such a flow is NEW again and meets the rules as they are now.

What the firewall compares is each port's expanded rules (sgrules.py) before and after a
change, so three of neutron's cases are one here: a rule deleted from a group, a group
taken off the port, and a remote group's member gone (its rule copy with the member's
address goes). A port no longer filtered by this host, or newly filtered (port security
turned on), has every flow of its addresses cut; one whose filtering is turned off keeps
them. neutron's commands name the protocol, the port's address and, for a member gone, the
member's address; here they also carry the rule's remote prefix and a single port or ICMP
type, so a flow another rule allowed keeps its entry. A port range is left out (conntrack
matches one port): flows of the protocol beyond the range are cut too, and meet the rules
again at their next packet, as with neutron. IPv6 flows (the port's IPv6 addresses and its
link-local one) are cut alike, with ``-f ipv6``.
"""

from __future__ import annotations

import logging
from typing import Any

from labcloud.network.agents.firewall import Port, is_filtered, link_local
from labcloud.network.agents.netfilter import Netfilter
from labcloud.network.schemas.security import PROTOCOLS

LOG = logging.getLogger(__name__)
NAMES = {
    1: "icmp",
    6: "tcp",
    17: "udp",
    33: "dccp",
    132: "sctp",
    58: "icmpv6",
}  # conntrack's own; others by number
Command = tuple[
    str, ...
]  # conntrack's argv: the port's side (-s/-d, address) 5th and 6th, zone last


def addresses(port: Port) -> list[str]:
    """The port's addresses or prefixes: fixed IPs, allowed address pairs and the
    link-local address of its MAC."""
    pairs = [p["ip_address"] for p in port.get("allowed_address_pairs") or []]
    return [*port["fixed_ips"], *pairs, link_local(port["mac_address"])]


def family(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def _key(rule: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A rule as what it allows: two groups' equal rules are one."""
    return tuple(sorted((k, str(v)) for k, v in rule.items() if k != "security_group_id"))


def removed_rules(before: Port, after: Port) -> list[dict[str, Any]]:
    """The rules ``before`` had that ``after`` has not."""
    kept = {_key(r) for r in after["security_group_rules"]}
    gone = {_key(r): r for r in before["security_group_rules"] if _key(r) not in kept}
    return list(gone.values())


def cuts(before: Port | None, after: Port | None, zone: int) -> set[Command]:
    """The ``conntrack -D`` commands for a port changing from ``before`` to ``after``
    (None: not on this host's firewall); in ``zone``, its network's."""
    if before is None:
        return set()  # a new port has no flows yet
    if after is None or (not is_filtered(before) and is_filtered(after)):
        return {c for a in addresses(before) for c in everything(a, zone)}
    if not is_filtered(after):
        return set()
    found = {c for a in set(addresses(before)) - set(addresses(after)) for c in everything(a, zone)}
    for rule in removed_rules(before, after):
        version = "ipv6" if rule.get("ethertype") == "IPv6" else "ipv4"
        found |= {by_rule(rule, a, zone) for a in addresses(after) if family(a) == version}
    return found


def everything(address: str, zone: int) -> list[Command]:
    """Every flow from or to ``address`` (both ways it may have begun)."""
    return [
        ("conntrack", "-D", "-f", family(address), way, address, "-w", str(zone))
        for way in ("-s", "-d")
    ]


def by_rule(rule: dict[str, Any], address: str, zone: int) -> Command:
    """The flows ``rule`` let in (ingress: begun towards ``address``) or out (egress:
    begun by it)."""
    ingress = rule["direction"] == "ingress"
    argv = ["conntrack", "-D", "-f", family(address), "-d" if ingress else "-s", address]
    protocol = rule.get("protocol")
    number = None if protocol is None else PROTOCOLS.get(str(protocol), None)
    if protocol is not None and number is None:
        number = int(str(protocol))
    if number == 1 and family(address) == "ipv6":
        number = 58  # "icmp" in an IPv6 rule is ICMPv6
    if number:  # 0 ("ip"): any protocol
        argv += ["-p", NAMES.get(number, str(number))]
    remote = rule.get("source_ip_prefix" if ingress else "dest_ip_prefix")
    if remote and not str(remote).endswith("/0"):
        argv += ["-s" if ingress else "-d", str(remote).removesuffix("/32").removesuffix("/128")]
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if number in (1, 58) and low is not None:  # ICMP: type and code
        icmp = "--icmp" if number == 1 else "--icmpv6"
        argv += [f"{icmp}-type", str(low)] + (
            [f"{icmp}-code", str(high)] if high is not None else []
        )
    elif number in NAMES and low is not None and high in (None, low):
        argv += ["--dport", str(low)]
    sport, sport_high = rule.get("source_port_range_min"), rule.get("source_port_range_max")
    if (
        number in NAMES
        and number not in (1, 58)
        and sport is not None
        and sport_high in (None, sport)
    ):
        argv += ["--sport", str(sport)]
    return (*argv, "-w", str(zone))


def delete(tools: Netfilter, commands: set[Command]) -> None:
    """Run the commands that may match a flow conntrack knows now (one ``conntrack -L``
    first: most ports that go, or lose a rule, have none, and a process per command costs
    ~10 ms). A flow begun after the listing met the new rules already. Exit status 1: no
    such flow; another failure is logged, as neutron logs it: the tables are right, only
    old flows may linger."""
    if not commands:
        return
    known = set()
    for version in sorted({command[3] for command in commands}):
        known |= live(tools.run(["conntrack", "-L", "-f", version]).stdout)
    for command in sorted(commands):
        way, address, zone = command[4], command[5], command[-1]
        if "/" not in address and (zone, way, address) not in known:
            continue
        done = tools.run(list(command))
        if done.returncode not in (0, 1):
            LOG.warning("%s in %s: %s", " ".join(command), tools.ns, done.stderr.strip())


def live(listing: str) -> set[tuple[str, str, str]]:
    """(zone, ``-s`` or ``-d``, address) of each flow's original direction in a
    ``conntrack -L`` listing (its first src= and dst=; zone 0 if it names none)."""
    found = set()
    for line in listing.splitlines():
        fields: dict[str, str] = {}
        for field in line.split():
            key, _, value = field.partition("=")
            if value:
                fields.setdefault(key, value)
        zone = fields.get("zone", "0")
        if "src" in fields and "dst" in fields:
            found |= {(zone, "-s", fields["src"]), (zone, "-d", fields["dst"])}
    return found
