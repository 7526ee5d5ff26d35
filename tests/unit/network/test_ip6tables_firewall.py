"""The IPv6 half of the iptables firewall: a port's chains in ip6tables, as neutron's
iptables driver writes them (neighbour discovery in, no router advertisement or DHCPv6
server out, the source checked against the port's addresses and its link-local one)."""

from __future__ import annotations

from typing import Any

import pytest

from labcloud.network.agents.firewall import link_local
from labcloud.network.agents.ip6tables_firewall import mac_ip6_pairs, port_chains, rule_args
from labcloud.network.agents.iptables_rules import FALLBACK, chain, ruleset
from tests.unit.network.test_firewall import port

LLA = "fe80::f816:3eff:fe00:1"
ICMP6 = "-p ipv6-icmp -m icmp6 --icmpv6-type"


def test_a_mac_gives_the_kernels_link_local_address() -> None:
    assert link_local("fa:16:3e:00:00:01") == LLA
    assert link_local("02:00:00:00:00:00") == "fe80::ff:fe00:0"  # the local bit goes


@pytest.mark.parametrize(
    ("rule", "args"),
    [
        ({}, ""),
        ({"source_ip_prefix": "::/0"}, ""),
        ({"source_ip_prefix": "2001:db8::7/128"}, "-s 2001:db8::7/128"),
        ({"protocol": "icmp"}, "-p ipv6-icmp"),  # "icmp" in an IPv6 rule is ICMPv6
        ({"protocol": "ipv6-icmp", "port_range_min": 128}, f"{ICMP6} 128"),
        ({"protocol": "58", "port_range_min": 1, "port_range_max": 4}, f"{ICMP6} 1/4"),
        ({"protocol": "tcp", "port_range_min": 80}, "-p tcp -m tcp --dport 80"),
    ],
)  # fmt: skip
def test_an_ipv6_rule_becomes_ip6tables_matches(rule: dict[str, Any], args: str) -> None:
    assert rule_args({"direction": "ingress", "ethertype": "IPv6"} | rule) == args


def test_ipv4_rules_are_left_to_iptables() -> None:
    assert rule_args({"direction": "ingress", "ethertype": "IPv4"}) is None


def test_a_ports_ipv6_chains() -> None:
    made = port(
        fixed_ips=["10.0.0.5", "2001:db8::5"],
        security_group_rules=[
            {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"},
            {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp"},
            {"direction": "egress", "ethertype": "IPv6"},
        ],
    )
    chains = port_chains(made)
    i, o, s = (chain(k, made) for k in "ios")
    nd = [f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN" for t in (130, 135, 136)]
    assert chains[i] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        *nd,  # before INVALID: conntrack tracks no neighbour discovery
        "-m conntrack --ctstate INVALID -j DROP",
        "-p ipv6-icmp -j RETURN",
        f"-j {FALLBACK}",
    ]
    assert chains[o].index(f"-j {s}") == 3  # after DAD and MLD from ::
    assert chains[o][4] == "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP"
    assert "-p udp -m udp --sport 547 --dport 546 -j DROP" in chains[o]
    assert chains[o][-2:] == ["-j RETURN", f"-j {FALLBACK}"]
    assert chains[s] == [
        "-s 2001:db8::5/128 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        f"-s {LLA}/128 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-j DROP",
    ]


def test_an_ipv4_only_port_may_send_from_its_link_local_address_only() -> None:
    """neutron gives such a port no IPv6 spoofing chain (any source); labcloud does."""
    assert port_chains(port())[chain("s", port())] == [
        f"-s {LLA}/128 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-j DROP",
    ]


def test_allowed_address_pairs_bring_their_macs_link_local_address() -> None:
    pairs = [{"ip_address": "2001:db8::/64", "mac_address": "FA:16:3E:00:00:02"}]
    assert mac_ip6_pairs(port(allowed_address_pairs=pairs)) == [
        ("fa:16:3e:00:00:01", LLA),
        ("fa:16:3e:00:00:02", "2001:db8::/64"),
        ("fa:16:3e:00:00:02", "fe80::f816:3eff:fe00:2"),
    ]


def test_the_ip6tables_ruleset_has_the_ipv4_ones_chains_and_jumps() -> None:
    text = ruleset({"tap0123456789a": port()}, {"net0123456789": 4097}, set(), port_chains)
    assert "-A neutron-linuxbri-sg-chain -j ACCEPT" in text
    assert "-j CT --zone 4097" in text
    assert "--icmpv6-type 134 -j DROP" in text
