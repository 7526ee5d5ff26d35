"""The L2 agent's firewall drivers: the rules neutron's iptables driver writes for a port,
and the driver contract every firewall passes (the no-op one, and iptables in a namespace
this test makes, as root)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.netns import links, procs
from labcloud.network.agents.firewall import FirewallDriver, NoopFirewall
from labcloud.network.agents.iptables_firewall import IptablesFirewall
from labcloud.network.agents.iptables_rules import (
    FALLBACK,
    FORWARD,
    chain,
    port_chains,
    rule_args,
    ruleset,
)
from labcloud.network.agents.netfilter import PACKAGES, changed_chains
from tests.conftest import require

PORT_ID = "0123456789ab-cdef"


def port(device: str = "tap0123456789a", **kw: Any) -> dict[str, Any]:
    return {
        "device": device,
        "id": PORT_ID,
        "network_id": "net0123456789",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": ["10.0.0.5"],
        "device_owner": "compute:nova",
        "port_security_enabled": True,
        "security_groups": ["g"],
        "security_group_rules": [{"direction": "egress", "ethertype": "IPv4"}],
    } | kw


@pytest.mark.parametrize(
    ("rule", "args"),
    [
        ({"source_ip_prefix": "10.0.0.6/32"}, "-s 10.0.0.6/32"),
        ({"source_ip_prefix": "0.0.0.0/0"}, ""),
        ({"protocol": "icmp"}, "-p icmp"),
        (
            {"protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
            "-p icmp -m icmp --icmp-type 8/0",
        ),
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80},
            "-p tcp -m tcp --dport 80",
        ),
        (
            {"protocol": "6", "port_range_min": 1000, "port_range_max": 2000},
            "-p tcp -m tcp --dport 1000:2000",
        ),
        (
            {"protocol": "udplite", "port_range_min": 5, "port_range_max": 6},
            "-p 136 -m multiport --dports 5:6",
        ),
        ({"protocol": "gre"}, "-p 47"),
        (
            {"remote_group_id": "g0123", "direction": "ingress", "protocol": "tcp"},
            "-m set --match-set NIPv4g0123 src -p tcp -m tcp",
        ),
        (
            {
                "protocol": "udp",
                "port_range_min": 68,
                "port_range_max": 68,
                "source_port_range_min": 67,
                "dest_ip_prefix": "255.255.255.255/32",
            },
            "-d 255.255.255.255/32 -p udp -m udp --sport 67 --dport 68",
        ),
    ],
)
def test_a_rule_becomes_iptables_matches(rule: dict[str, Any], args: str) -> None:
    assert rule_args({"direction": "ingress", "ethertype": "IPv4"} | rule) == args


def test_ipv6_rules_are_left_to_the_ip6tables_half() -> None:
    assert rule_args({"direction": "ingress", "ethertype": "IPv6"}) is None


def test_a_ports_chains_are_stateful_and_spoof_proof() -> None:
    made = port(
        security_group_rules=[
            {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22},
            {"direction": "egress", "ethertype": "IPv4"},
        ]
    )
    chains = port_chains(made)
    i, o, s = (chain(k, made) for k in "ios")
    assert i == "neutron-linuxbri-i0123456789"  # 28 characters: iptables' longest name
    assert chains[i] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-m conntrack --ctstate INVALID -j DROP",
        "-p tcp -m tcp --dport 22 -j RETURN",
        f"-j {FALLBACK}",
    ]
    assert chains[o].index(f"-j {s}") == 1  # after the DHCP discover, before anything else
    assert chains[o][-2:] == ["-j RETURN", f"-j {FALLBACK}"]
    assert chains[s] == [
        "-s 10.0.0.5/32 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-j DROP",
    ]


def test_unfiltered_ports_are_let_through_after_every_filtered_ports_jumps() -> None:
    dhcp = port("tapdhcp", id="dhcp0000000", device_owner="network:dhcp")
    off = port("tapoff", id="off00000000", port_security_enabled=False)
    text = ruleset({"tapdhcp": dhcp, "tapoff": off, "tap0123456789a": port()}, {}, {"x-old"})
    forward = [line for line in text.splitlines() if line.startswith(f"-A {FORWARD} ")]
    assert [line.split()[-1] for line in forward] == ["neutron-linuxbri-sg-chain"] * 2 + [
        "ACCEPT"
    ] * 4
    assert "neutron-linuxbri-idhcp000000" not in text  # trusted: no chains of its own
    assert text.count("-X x-old") == 1  # a port gone: its chain deleted


@pytest.fixture(params=["noop", "iptables"])
def firewall(request: pytest.FixtureRequest) -> Iterator[FirewallDriver]:
    if request.param == "noop":
        yield NoopFirewall()
        return
    require(os.geteuid() == 0, "iptables in a namespace needs root")
    for tool, package in PACKAGES.items():
        require(shutil.which(tool) is not None, f"{tool} is not installed (Debian: {package})")
    ns = f"lc-{secrets.token_hex(2)}-fwtest"
    links.ensure_namespace(ns)
    try:
        yield IptablesFirewall(ns)
    finally:
        links.delete_namespace(ns)


def saved(firewall: FirewallDriver) -> str:
    if isinstance(firewall, IptablesFirewall):
        tables = procs.run(firewall.ns, ["iptables-save"]).stdout
        tables += procs.run(firewall.ns, ["ip6tables-save"]).stdout
        return tables + procs.run(firewall.ns, ["ebtables-save", "-t", "nat"]).stdout
    return ""


def test_the_firewall_contract(firewall: FirewallDriver) -> None:
    firewall.prepare_port_filters([port()])
    assert list(firewall.ports()) == ["tap0123456789a"]
    replaced = port(security_group_rules=[])
    firewall.prepare_port_filters([replaced])  # replaces, does not add
    assert firewall.ports() == {"tap0123456789a": replaced}
    if isinstance(firewall, IptablesFirewall):
        assert "-A neutron-linuxbri-o0123456789 -j RETURN" not in saved(firewall)
        assert "-A FORWARD -j neutron-linuxbri-FORWARD" in saved(firewall)
        v6 = procs.run(firewall.ns, ["ip6tables-save"]).stdout
        assert "-A FORWARD -j neutron-linuxbri-FORWARD" in v6
        assert "-A neutron-linuxbri-s0123456789 -s fe80::f816:3eff:fe00:1/128" in v6
        assert "-A PREROUTING -j neutron-PREROUTING" in saved(firewall)  # ebtables
        assert "-A neutron-PREROUTING -i tap0123456789a -j neutronMAC-" in saved(firewall)
    firewall.remove_port_filters(["tap0123456789a"])
    firewall.remove_port_filters(["tap0123456789a", "tapnever"])  # safe to repeat
    assert firewall.ports() == {}
    assert "neutron-linuxbri-i0123456789" not in saved(firewall)
    firewall.prepare_port_filters([port()])
    firewall.cleanup()
    firewall.cleanup()
    assert firewall.ports() == {}
    assert "neutron-linuxbri" not in saved(firewall)
    assert "neutron-PREROUTING" not in saved(firewall)


@pytest.mark.parametrize("firewall", ["iptables"], indirect=True)
def test_a_remote_group_is_a_set_that_goes_with_its_last_port(firewall: FirewallDriver) -> None:
    assert isinstance(firewall, IptablesFirewall)
    remote = {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "g0123"}
    firewall.update_security_group_members({"g0123": {"IPv4": ["10.0.0.5", "10.0.0.6"]}})
    firewall.prepare_port_filters([port(security_group_rules=[remote])])
    assert "--match-set NIPv4g0123 src -j RETURN" in saved(firewall)
    listing = procs.run(firewall.ns, ["ipset", "list", "NIPv4g0123"]).stdout
    assert set(listing.split("Members:")[1].split()) == {"10.0.0.5", "10.0.0.6"}
    firewall.remove_port_filters(["tap0123456789a"])
    assert "NIPv4g0123" not in procs.run(firewall.ns, ["ipset", "list", "-n"]).stdout
    firewall.update_security_group_members({"g0123": {"IPv4": ["10.0.0.5"]}})
    firewall.prepare_port_filters([port(security_group_rules=[remote])])
    firewall.cleanup()
    assert "NIPv4g0123" not in procs.run(firewall.ns, ["ipset", "list", "-n"]).stdout


def test_after_the_first_restore_only_changed_chains_are_written() -> None:
    old = "*raw\n:P - [0:0]\n-A P -j CT --zone 1\nCOMMIT\n*filter\n:A - [0:0]\n:B - [0:0]\n"
    old += "-A A -j B\n-A B -j DROP\nCOMMIT\n"
    assert changed_chains(old, old) == ""
    new = old.replace("-A B -j DROP", "-A B -s 10.0.0.1/32 -j RETURN\n-A B -j DROP")
    assert changed_chains(old, new) == (
        "*filter\n:B - [0:0]\n-A B -s 10.0.0.1/32 -j RETURN\n-A B -j DROP\nCOMMIT\n"
    )
    gone = "*raw\n:P - [0:0]\n-A P -j CT --zone 1\nCOMMIT\n*filter\n:A - [0:0]\n:B - [0:0]\n"
    gone += "-A A -j DROP\n-X B\nCOMMIT\n"
    assert (
        changed_chains(old, gone) == "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j DROP\n-X B\nCOMMIT\n"
    )
    ebtables = (
        "*nat\n:A ACCEPT\n:B ACCEPT\n-A A -j B\n-A B -j DROP\nCOMMIT\n"  # its declarations kept
    )
    assert changed_chains(ebtables, ebtables.replace("B -j DROP", "B -j RETURN")) == (
        "*nat\n:B ACCEPT\n-A B -j RETURN\nCOMMIT\n"
    )
