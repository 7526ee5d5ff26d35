"""A port's security group rules as a firewall applies them, from its groups' rules and the
addresses of the groups they name (neutron's _convert_remote_group_id_to_ip_prefix and
its provider rules). Pure: the server uses it to answer ``security_group_rules_for_devices``,
an agent to expand the smaller ``security_group_info_for_devices`` answer itself.

A ``remote_group_id`` becomes one rule per member address (the port's own left out),
as neutron does when the agent has no ipset (with one, ``ipset=True``, the rule stays as
it is and the firewall matches the group's set); then neutron's "provider rules": a DHCP
server may answer the port (UDP 67 → 68 to its addresses or to broadcast). IPv6's (the
router's advertisements, DHCPv6 answers) are left out: labcloud's IPv6 subnets have neither.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]
Members = dict[str, dict[str, list[str]]]
DIRECTION_IP_PREFIX = {"ingress": "source_ip_prefix", "egress": "dest_ip_prefix"}
DHCP_CLIENT, DHCP_SERVER = 68, 67


class MemberRules:
    """Remote-group rules as one rule per member address (``per_member``), built once per
    answer for all the ports expanded from it and, across answers (``new_answer``), once
    per rule and address: an agent refreshing its ports each time their group gains a
    member builds that member's rules, not every member's again. The copies are shared
    by the ports: read-only."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], dict[str, Rule]] = {}  # rule → address → copy
        self._used: dict[tuple[Any, ...], dict[str, Rule]] = {}
        # this answer's rules (kept alive, so their ids stay theirs) → their copies, in the
        # members' order, and each address's place among them (None: an address twice)
        self._answer: dict[int, tuple[Rule, list[Rule], dict[str, int] | None]] = {}

    def new_answer(self) -> None:
        """The next ports come from a new answer; copies no rule of the last used go."""
        if self._used:
            self._kept, self._used = self._used, {}
        self._answer.clear()

    def of(self, rule: Rule, members: Members) -> tuple[list[Rule], dict[str, int] | None]:
        """The rule's per-member copies and each address's place (None: some address is
        there twice, look for it)."""
        found = self._answer.get(id(rule))
        if found is not None:
            return found[1], found[2]
        key = tuple(sorted(rule.items()))
        addresses = members.get(rule["remote_group_id"], {}).get(rule["ethertype"], [])
        by_address = self._kept.get(key, {})
        wanted = set(addresses)
        new = wanted.difference(by_address)
        if new or len(by_address) > len(wanted):
            if len(by_address) + len(new) > len(wanted):  # members gone: their copies too
                by_address = {a: c for a, c in by_address.items() if a in wanted}
            else:
                by_address = dict(by_address)
            base = {k: v for k, v in rule.items() if k != "remote_group_id"}
            prefix = DIRECTION_IP_PREFIX[rule["direction"]]
            by_address |= {a: base | {prefix: host(a)} for a in new}
        copies = list(map(by_address.__getitem__, addresses))
        places = dict(zip(addresses, range(len(addresses)), strict=True))
        at = places if len(places) == len(addresses) else None
        self._used[key] = by_address
        self._answer[id(rule)] = (rule, copies, at)
        return copies, at


def expand(
    port: dict[str, Any],
    groups: dict[str, list[Rule]],
    members: Members,
    memo: MemberRules | None = None,
    ipset: bool = False,
) -> list[Rule]:
    """``port``: its ``fixed_ips`` (addresses) and ``security_groups``; ``groups``: each
    group's rules (``remote_ip_prefix`` already as source/dest_ip_prefix); ``members``:
    each named group's addresses by ethertype. Ports expanded from one answer may share a
    ``memo``: a rule's per-member copies are then built once and shared (read-only), and
    each port's list is theirs but its own addresses', cut out by slicing."""
    memo = MemberRules() if memo is None else memo
    own = port["fixed_ips"]
    rules: list[Rule] = []
    for group in port["security_groups"]:
        for rule in groups.get(group, []):
            if not rule.get("remote_group_id") or ipset:
                rules.append(rule)
                continue
            copies, at = memo.of(rule, members)
            if at is None:  # an address twice among the members: each place of the port's
                skip = [i for i, copy in enumerate(copies) if _address(copy) in own]
            else:
                skip = sorted(at[a] for a in own if a in at)
            start = 0
            for i in skip:
                rules += copies[start:i]
                start = i + 1
            rules += copies[start:]
    return rules + dhcp_rules(own)


def _address(copy: Rule) -> str:
    """The member address a per-member copy names."""
    return str(copy[DIRECTION_IP_PREFIX[copy["direction"]]]).split("/")[0]


def per_member(rule: Rule, members: Members) -> list[tuple[str, Rule]]:
    """A remote-group rule as one rule per member address of that group (with the address:
    with ipset off, neutron leaves the port's own address out)."""
    base = {k: v for k, v in rule.items() if k != "remote_group_id"}
    prefix = DIRECTION_IP_PREFIX[rule["direction"]]
    addresses = members.get(rule["remote_group_id"], {}).get(rule["ethertype"], [])
    return [(address, base | {prefix: host(address)}) for address in addresses]


def dhcp_rules(addresses: list[str]) -> list[Rule]:
    """neutron's _add_ingress_dhcp_rule (IPv4): DHCP servers may answer the port."""
    targets = [host(a) for a in addresses if ethertype(a) == "IPv4"] + ["255.255.255.255/32"]
    return [
        {
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "udp",
            "port_range_min": DHCP_CLIENT,
            "port_range_max": DHCP_CLIENT,
            "source_port_range_min": DHCP_SERVER,
            "source_port_range_max": DHCP_SERVER,
            "dest_ip_prefix": target,
        }
        for target in targets
    ]


def ethertype(address: str) -> str:
    return "IPv6" if ":" in address else "IPv4"


def host(address: str) -> str:
    return f"{address}/128" if ":" in address else f"{address}/32"
