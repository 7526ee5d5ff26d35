"""Which flows the firewall cuts when a port's rules change: the ``conntrack -D`` commands
for what only the removed rules let in (neutron's IpConntrackManager), in the network's
zone."""

from __future__ import annotations

import subprocess
from typing import Any

from labcloud.network.agents.ip_conntrack import by_rule, cuts, delete, everything, live

ICMP_IN = {"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"}
WEB_IN = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp"} | {
    "port_range_min": 80,
    "port_range_max": 80,
}
ALL_OUT = {"direction": "egress", "ethertype": "IPv4"}
LLA = "fe80::f816:3eff:fe00:1"  # the port's MAC's link-local address


def port(*rules: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "device": "tap0123456789a",
        "network_id": "net1",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": ["10.0.0.5"],
        "device_owner": "compute:nova",
        "port_security_enabled": True,
        "security_group_rules": list(rules),
    } | kw


def cut(before: dict[str, Any] | None, after: dict[str, Any] | None) -> set[str]:
    return {" ".join(c) for c in cuts(before, after, 4097)}


def test_a_removed_rule_cuts_the_flows_it_let_in_and_no_other() -> None:
    before = port(ICMP_IN, WEB_IN, ALL_OUT)
    assert cut(before, port(WEB_IN, ALL_OUT)) == {
        "conntrack -D -f ipv4 -d 10.0.0.5 -p icmp -w 4097"
    }
    assert cut(before, port(ICMP_IN, WEB_IN)) == {"conntrack -D -f ipv4 -s 10.0.0.5 -w 4097"}
    assert cut(before, before) == set()


def test_a_rule_in_two_groups_is_cut_only_when_both_are_gone() -> None:
    """A group taken off the port whose rule another of its groups also has: no cut."""
    twice = port(ICMP_IN | {"security_group_id": "a"}, ICMP_IN | {"security_group_id": "b"})
    assert cut(twice, port(ICMP_IN | {"security_group_id": "b"})) == set()


def test_a_remote_group_member_gone_cuts_its_flows_only() -> None:
    """Its copy of the remote-group rule (its address as the prefix) goes."""
    member = {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.7/32"}
    other = member | {"source_ip_prefix": "10.0.0.8/32"}
    assert cut(port(member, other), port(other)) == {
        "conntrack -D -f ipv4 -d 10.0.0.5 -s 10.0.0.7 -w 4097"
    }


def test_a_gone_or_newly_filtered_port_loses_every_flow_and_a_new_one_has_none() -> None:
    every = {f"conntrack -D -f ipv4 {way} 10.0.0.5 -w 4097" for way in ("-s", "-d")} | {
        f"conntrack -D -f ipv6 {way} {LLA} -w 4097" for way in ("-s", "-d")
    }
    assert cut(port(ICMP_IN), None) == every
    assert cut(port(port_security_enabled=False), port(ICMP_IN)) == every
    assert cut(port(ICMP_IN), port(port_security_enabled=False)) == set()  # all allowed now
    assert cut(None, port(ICMP_IN)) == set()


def test_an_address_taken_away_loses_its_flows() -> None:
    assert cut(port(ICMP_IN), port(ICMP_IN, fixed_ips=["10.0.0.6"])) == {
        "conntrack -D -f ipv4 -s 10.0.0.5 -w 4097",
        "conntrack -D -f ipv4 -d 10.0.0.5 -w 4097",
    }


def test_a_rule_as_conntrack_matches() -> None:
    def argv(rule: dict[str, Any]) -> str:
        return " ".join(by_rule(rule, "10.0.0.5", 9))

    assert argv(WEB_IN) == "conntrack -D -f ipv4 -d 10.0.0.5 -p tcp --dport 80 -w 9"
    ranged = WEB_IN | {"port_range_max": 90}  # conntrack matches one port: the protocol's
    assert argv(ranged) == "conntrack -D -f ipv4 -d 10.0.0.5 -p tcp -w 9"
    echo = ICMP_IN | {"port_range_min": 8, "source_ip_prefix": "10.1.0.0/16"}
    assert (
        argv(echo) == "conntrack -D -f ipv4 -d 10.0.0.5 -p icmp -s 10.1.0.0/16 --icmp-type 8 -w 9"
    )
    out = ALL_OUT | {"protocol": "50", "dest_ip_prefix": "0.0.0.0/0"}
    assert argv(out) == "conntrack -D -f ipv4 -s 10.0.0.5 -p 50 -w 9"
    assert argv(ALL_OUT | {"protocol": "ip"}) == "conntrack -D -f ipv4 -s 10.0.0.5 -w 9"
    dhcp = {"direction": "ingress", "protocol": "udp", "source_port_range_min": 67}
    assert argv(dhcp) == "conntrack -D -f ipv4 -d 10.0.0.5 -p udp --sport 67 -w 9"


def test_ipv6_rules_cut_ipv6_flows_of_the_link_local_and_fixed_addresses() -> None:
    v6 = ICMP_IN | {"ethertype": "IPv6", "source_ip_prefix": "2001:db8::7/128"}
    dual = ["10.0.0.5", "2001:db8::5"]
    assert cut(port(v6, fixed_ips=dual), port(fixed_ips=dual)) == {
        f"conntrack -D -f ipv6 -d {a} -p icmpv6 -s 2001:db8::7 -w 4097"
        for a in (LLA, "2001:db8::5")
    }
    echo = v6 | {"port_range_min": 128}
    assert " ".join(by_rule(echo, LLA, 9)).endswith(
        "-p icmpv6 -s 2001:db8::7 --icmpv6-type 128 -w 9"
    )
    assert everything("10.0.0.5", 1)[0][-2:] == ("-w", "1")


LISTING = "\n".join(  # conntrack -L: the original direction first, then the reply
    [
        "icmp     1 29 src=10.0.0.7 dst=10.0.0.5 type=8 code=0 id=43 src=10.0.0.5 "
        "dst=10.0.0.7 type=0 code=0 id=43 mark=0 zone=4097 use=1",
        "tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=10.0.0.9 sport=4711 dport=80 "
        "src=10.0.0.9 dst=10.0.0.5 sport=80 dport=4711 [ASSURED] mark=0 use=1",
    ]
)


def test_the_listing_tells_which_addresses_have_flows() -> None:
    assert live(LISTING) == {
        ("4097", "-s", "10.0.0.7"),
        ("4097", "-d", "10.0.0.5"),
        ("0", "-s", "10.0.0.5"),
        ("0", "-d", "10.0.0.9"),
    }


class Tools:
    """What delete() runs, with conntrack's listing as above."""

    ns = "lc-test"

    def __init__(self) -> None:
        self.ran: list[list[str]] = []

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.ran.append(argv)
        return subprocess.CompletedProcess(argv, 0, LISTING if "-L" in argv else "", "")


def test_only_commands_that_may_match_a_known_flow_are_run() -> None:
    tools = Tools()
    gone = port(ICMP_IN, fixed_ips=["10.0.0.5", "10.0.0.6", "10.2.0.0/24"])
    delete(tools, cuts(gone, None, 4097))  # type: ignore[arg-type]
    assert [" ".join(argv) for argv in tools.ran] == [
        "conntrack -L -f ipv4",
        "conntrack -L -f ipv6",  # its link-local address has none either
        "conntrack -D -f ipv4 -d 10.0.0.5 -w 4097",  # 10.0.0.6 has none; a prefix may
        "conntrack -D -f ipv4 -d 10.2.0.0/24 -w 4097",
        "conntrack -D -f ipv4 -s 10.2.0.0/24 -w 4097",
    ]
    delete(tools, set())  # type: ignore[arg-type]
    assert len(tools.ran) == 5  # nothing to cut: not even a listing
