"""sgrules.expand: ports expanded with one shared memo get the same rules as each alone."""

from __future__ import annotations

from labcloud.network.sgrules import expand

GROUPS = {
    "web": [
        {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "web"},
        {"direction": "egress", "ethertype": "IPv4", "dest_ip_prefix": "0.0.0.0/0"},
        {"direction": "egress", "ethertype": "IPv6", "remote_group_id": "db"},
    ],
    "db": [{"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "web"}],
}
MEMBERS = {
    "web": {"IPv4": ["10.0.0.3", "10.0.0.4", "10.0.0.5"], "IPv6": []},
    "db": {"IPv4": ["10.0.0.9"], "IPv6": ["fd00::9"]},
}
PORTS = [
    {"fixed_ips": ["10.0.0.3"], "security_groups": ["web"]},
    {"fixed_ips": ["10.0.0.4"], "security_groups": ["web", "db"]},
    {"fixed_ips": ["10.0.0.9", "fd00::9"], "security_groups": ["db"]},
]


def test_a_shared_memo_changes_no_port_s_rules() -> None:
    memo: dict[int, list[tuple[str, dict[str, object]]]] = {}
    shared = [expand(p, GROUPS, MEMBERS, memo) for p in PORTS]
    assert shared == [expand(p, GROUPS, MEMBERS) for p in PORTS]
    assert memo  # it was used


def test_a_remote_group_becomes_one_rule_per_other_member() -> None:
    rules = expand(PORTS[0], GROUPS, MEMBERS)
    ingress = [r for r in rules if r["direction"] == "ingress" and r.get("protocol") != "udp"]
    assert ingress == [
        {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.4/32"},
        {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.5/32"},
    ]
    assert {"direction": "egress", "ethertype": "IPv6", "dest_ip_prefix": "fd00::9/128"} in rules
