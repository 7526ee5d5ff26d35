"""The IPv6 half of the iptables firewall (neutron's iptables driver writes every chain
twice, with ``iptables`` and ``ip6tables``): the same chains and jumps in the host's
ip6tables, with each port's IPv6 rules, so a guest's IPv6 (every guest has a link-local
address from the kernel) meets its security groups as its IPv4 does.

What IPv6 adds to a port's chains, as neutron has it:

    i<port>: ESTABLISHED,RELATED return · ICMPv6 MLD query (130), neighbour solicitation
             (135) and advertisement (136) in · INVALID drop · the ingress rules · fallback
    o<port>: DAD and MLD from ``::`` (ICMPv6 131, 135, 143 to ff02::/16) · s<port> ·
             no router advertisement (134) · other ICMPv6 out · DHCPv6 requests
             (546 → 547) · no DHCPv6 server (547 → 546) · ESTABLISHED,RELATED · INVALID
             drop · the egress rules · fallback
    s<port>: its MAC with each IPv6 address, each IPv6 allowed address pair, and the
             link-local address each of those MACs makes (EUI-64) · DROP

Neighbour discovery is let through before conntrack's INVALID drop: conntrack tracks no
ND message, so each one is INVALID to it. As in the IPv4 chains, that drop comes before the
groups' rules (neutron's comes after them): a rule lets in no ICMPv6 conntrack cannot track
(echo requests it tracks; MLD reports or router solicitations it does not).

neutron adds the link-local address to the spoofing chain only beside an IPv6 fixed IP, and
a port with IPv4 addresses only gets no IPv6 spoofing chain at all (it may send from any
IPv6 source); here every port may send from its link-local address and its IPv6 addresses
only. Left out, with labcloud's IPv6 subnets having no router advertisements and no DHCPv6:
neutron's provider rules letting in the router's RAs and DHCPv6 answers.
"""

from __future__ import annotations

import ipaddress

from labcloud.network.agents import iptables_rules as v4
from labcloud.network.agents.firewall import Port, link_local
from labcloud.network.schemas.security import PROTOCOLS

SYSCTL = "/proc/sys/net/bridge/bridge-nf-call-ip6tables"
ICMPV6 = 58
ALLOWED_INGRESS_TYPES = (130, 135, 136)  # MLD query, neighbour solicitation, advertisement
ALLOWED_UNSPEC_TYPES = (131, 135, 143)  # MLD report, NS (DAD), MLDv2 report: from ::
RA = 134  # router advertisement: a guest is no router


def mac_ip6_pairs(port: Port) -> list[tuple[str, str]]:
    """(MAC, IPv6 address or prefix) the port may send from: its fixed IPv6 addresses and
    pairs, and the link-local address of its MAC and of each pair's."""
    macs = {port["mac_address"].lower()}
    pairs = [(port["mac_address"].lower(), ip) for ip in port["fixed_ips"] if ":" in ip]
    for pair in port.get("allowed_address_pairs") or []:
        mac = (pair.get("mac_address") or port["mac_address"]).lower()
        macs.add(mac)
        if ":" in pair["ip_address"]:
            pairs.append((mac, pair["ip_address"]))
    return sorted({*pairs, *((mac, link_local(mac)) for mac in macs)})


def rule_args(rule: dict[str, object]) -> str | None:
    """One IPv6 security group rule as ip6tables matches; None for an IPv4 rule. The
    matches are the IPv4 builder's, with ICMPv6 in place of ICMP."""
    if rule.get("ethertype") != "IPv6":
        return None
    rule = {k: v for k, v in rule.items() if v != "::/0"}
    protocol = rule.get("protocol")
    if protocol is None or PROTOCOLS.get(str(protocol), str(protocol)) not in (1, 58, "58"):
        return v4.matches(rule, "IPv6")
    args = v4.matches({k: v for k, v in rule.items() if k != "protocol"}, "IPv6")
    args = f"{args} -p ipv6-icmp".strip()  # "icmp" in an IPv6 rule means ICMPv6, as neutron
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is not None:
        args += f" -m icmp6 --icmpv6-type {low}" + (f"/{high}" if high is not None else "")
    return args


def port_chains(port: Port) -> dict[str, list[str]]:
    """The ip6tables rules (after ``-A <chain>``) of a filtered port's three chains."""
    i, o, s = (v4.chain(k, port) for k in "ios")
    icmp6 = "-p ipv6-icmp -m icmp6 --icmpv6-type"
    established = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    invalid = "-m conntrack --ctstate INVALID -j DROP"
    rules: dict[str, list[str]] = {"ingress": [], "egress": []}
    for rule in port["security_group_rules"]:
        args = rule_args(rule)
        if args is not None:
            rules[str(rule["direction"])].append(f"{args} -j RETURN".strip())
    spoof = [
        f"-s {ipaddress.ip_network(ip, strict=False)} -m mac --mac-source {mac} -j RETURN"
        for mac, ip in mac_ip6_pairs(port)
    ]
    if not port["fixed_ips"]:  # neutron: a port with no address may send from any
        spoof.append(f"-m mac --mac-source {port['mac_address'].lower()} -j RETURN")
    return {
        i: [
            established,
            *(f"{icmp6} {t} -j RETURN" for t in ALLOWED_INGRESS_TYPES),
            invalid,
            *rules["ingress"],
            f"-j {v4.FALLBACK}",
        ],
        o: [
            *(f"-s ::/128 -d ff02::/16 {icmp6} {t} -j RETURN" for t in ALLOWED_UNSPEC_TYPES),
            f"-j {s}",
            f"{icmp6} {RA} -j DROP",
            "-p ipv6-icmp -j RETURN",
            "-p udp -m udp --sport 546 --dport 547 -j RETURN",
            "-p udp -m udp --sport 547 --dport 546 -j DROP",
            established,
            invalid,
            *rules["egress"],
            f"-j {v4.FALLBACK}",
        ],
        s: [*spoof, "-j DROP"],
    }
