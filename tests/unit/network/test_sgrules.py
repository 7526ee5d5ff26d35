"""sgrules.expand: ports expanded with one shared memo get the same rules as each alone."""

from __future__ import annotations

from labcloud.network.sgrules import MemberRules, expand

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
    memo = MemberRules()
    shared = [expand(p, GROUPS, MEMBERS, memo) for p in PORTS]
    assert shared == [expand(p, GROUPS, MEMBERS) for p in PORTS]
    assert memo._answer  # it was used


def test_a_remote_group_becomes_one_rule_per_other_member() -> None:
    rules = expand(PORTS[0], GROUPS, MEMBERS)
    ingress = [r for r in rules if r["direction"] == "ingress" and r.get("protocol") != "udp"]
    assert ingress == [
        {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.4/32"},
        {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.5/32"},
    ]
    assert {"direction": "egress", "ethertype": "IPv6", "dest_ip_prefix": "fd00::9/128"} in rules


def test_an_address_twice_among_the_members_is_left_out_twice() -> None:
    """Two ports of a group may share an address (on two networks): the port's own
    address is left out wherever it appears, as a filter of every member would."""
    members = {"web": {"IPv4": ["10.0.0.3", "10.0.0.4", "10.0.0.4", "10.0.0.5"], "IPv6": []}}
    port = {"fixed_ips": ["10.0.0.4"], "security_groups": ["web"]}
    rules = expand(port, {"web": GROUPS["web"][:1]}, members)
    assert [r["source_ip_prefix"] for r in rules if "source_ip_prefix" in r] == [
        "10.0.0.3/32",
        "10.0.0.5/32",
    ]


def test_a_memo_kept_across_answers_reuses_copies_and_follows_the_members() -> None:
    """An agent's memo over rounds: a member's copy is built once and reused while the
    member stays; a member gone is gone from the rules; a new answer's equal rule (a new
    dict) finds the copies kept."""
    memo = MemberRules()
    first = expand(PORTS[0], GROUPS, MEMBERS, memo)
    memo.new_answer()
    groups = {g: [dict(r) for r in rules] for g, rules in GROUPS.items()}  # a new answer's
    members = {"web": {"IPv4": ["10.0.0.3", "10.0.0.5", "10.0.0.6"], "IPv6": []}} | {
        "db": MEMBERS["db"]
    }
    second = expand(PORTS[0], groups, members, memo)
    assert second == expand(PORTS[0], groups, members)
    old = {r["source_ip_prefix"]: r for r in first if "source_ip_prefix" in r}
    new = {r["source_ip_prefix"]: r for r in second if "source_ip_prefix" in r}
    assert set(new) == {"10.0.0.5/32", "10.0.0.6/32"}
    assert new["10.0.0.5/32"] is old["10.0.0.5/32"]  # kept, not built again
