"""The iptables rules of neutron's linuxbridge firewall, as text for ``iptables-restore``:
the chains' names, a security group rule's matches, a port's chains and a host's whole
ruleset (iptables_firewall.py's driver writes them; ip6tables_firewall.py builds its IPv6
chains on the same matches and layout). Pure: nothing here runs a command.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from labcloud.network.agents import ipset
from labcloud.network.agents.arp_protect import mac_ip_pairs
from labcloud.network.agents.firewall import Port, is_filtered
from labcloud.network.agents.l2 import bridge_name
from labcloud.network.schemas.security import PROTOCOLS

WRAP = "neutron-linuxbri"  # "neutron-linuxbridge-agent"[:16], neutron's wrap name
FORWARD, INPUT, SG_CHAIN, FALLBACK = (
    f"{WRAP}-{c}" for c in ("FORWARD", "INPUT", "sg-chain", "sg-fallback")
)
PREROUTING = f"{WRAP}-PREROUTING"
HOOKS = {"filter": [("FORWARD", FORWARD), ("INPUT", INPUT)], "raw": [("PREROUTING", PREROUTING)]}
ZONE_START = 4097  # neutron's first conntrack zone for the linuxbridge agent
PORT_MATCH = {6: "tcp", 17: "udp", 33: "dccp", 132: "sctp"}  # others: -m multiport
NAMES = {1: "icmp", 6: "tcp", 17: "udp", 50: "esp", 51: "ah", 132: "sctp"}  # iptables' own
SYSCTL = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def chain(kind: str, port: Port) -> str:
    """``neutron-linuxbri-i0123456789``: i, o or s and the port id's first 10 characters
    (iptables allows 28 characters to a chain's name)."""
    return f"{WRAP}-{kind}{port['id'][:10]}"


def _physdev(direction: str, device: str) -> str:
    return f"-m physdev --physdev-{direction} {device} --physdev-is-bridged"


def rule_args(rule: dict[str, object]) -> str | None:
    """One security group rule (as the server sends it) as iptables matches; None for
    an IPv6 rule (ip6tables_firewall.py's)."""
    if rule.get("ethertype") != "IPv4":
        return None
    return matches(rule, "IPv4")


def matches(rule: dict[str, object], ethertype: str) -> str:
    """A rule's matches, a remote group's set being the ``ethertype``'s (ip6tables_firewall
    builds its rules on these too)."""
    args = []
    for key, flag in (("source_ip_prefix", "-s"), ("dest_ip_prefix", "-d")):
        prefix = rule.get(key)
        if prefix and prefix != "0.0.0.0/0":
            args.append(f"{flag} {prefix}")
    if rule.get("remote_group_id"):  # with ipset: its members are the group's set
        args.append(ipset.match(str(rule["remote_group_id"]), ethertype, str(rule["direction"])))
    protocol = rule.get("protocol")
    if protocol is None:
        return " ".join(args)
    number = int(str(protocol)) if str(protocol).isdigit() else PROTOCOLS[str(protocol)]
    args.append(f"-p {NAMES.get(number, number)}")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if number == 1:
        if low is not None:  # ICMP: the "port range" is type and code
            args.append(f"-m icmp --icmp-type {low}" + (f"/{high}" if high is not None else ""))
        return " ".join(args)
    match = PORT_MATCH.get(number, "multiport")
    sport = rule.get("source_port_range_min")
    if match != "multiport" or low is not None or sport is not None:
        args.append(f"-m {match}")
    if sport is not None:
        args.append(f"--sport {_range(sport, rule.get('source_port_range_max'))}")
    if low is not None:
        dport = "--dports" if match == "multiport" else "--dport"
        args.append(f"{dport} {_range(low, high)}")
    return " ".join(args)


def _range(low: object, high: object) -> str:
    return str(low) if high in (None, low) else f"{low}:{high}"


def port_chains(port: Port) -> dict[str, list[str]]:
    """The rules (after ``-A <chain>``) of a filtered port's own three chains."""
    i, o, s = (chain(k, port) for k in "ios")
    stateful = ["-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    stateful += ["-m conntrack --ctstate INVALID -j DROP"]  # before any rule can allow it
    rules = {"ingress": [], "egress": []}  # type: dict[str, list[str]]
    for rule in port["security_group_rules"]:
        args = rule_args(rule)
        if args is not None:
            rules[str(rule["direction"])].append(f"{args} -j RETURN".strip())
    spoof = [  # its MAC with each address (and each allowed address pair's)
        f"-s {ipaddress.ip_network(ip, strict=False)} -m mac --mac-source {mac} -j RETURN"
        for mac, ip in mac_ip_pairs(port)
    ]
    if not port["fixed_ips"]:  # neutron: a port with no address may send from any
        spoof.append(f"-m mac --mac-source {port['mac_address'].lower()} -j RETURN")
    return {
        i: [*stateful, *rules["ingress"], f"-j {FALLBACK}"],
        o: [
            "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN",
            f"-j {s}",
            "-p udp -m udp --sport 68 --dport 67 -j RETURN",
            "-p udp -m udp --sport 67 --dport 68 -j DROP",
            *stateful,
            *rules["egress"],
            f"-j {FALLBACK}",
        ],
        s: [*spoof, "-j DROP"],
    }


def ruleset(
    ports: dict[str, Port],
    zones: dict[str, int],
    stale: set[str],
    chains_of: Callable[[Port], dict[str, list[str]]] = port_chains,
) -> str:
    """``iptables-restore --noflush`` input: every chain of this driver, rewritten;
    ``stale``: chains of ports no longer filtered, deleted; ``chains_of``: a port's own
    chains (ip6tables_firewall's for ``ip6tables-restore``)."""
    filtered = {d: p for d, p in sorted(ports.items()) if is_filtered(p)}
    chains: dict[str, list[str]] = {FORWARD: [], INPUT: [], SG_CHAIN: [], FALLBACK: ["-j DROP"]}
    for device, port in filtered.items():
        for direction in ("out", "in"):
            chains[FORWARD].append(f"{_physdev(direction, device)} -j {SG_CHAIN}")
        chains[SG_CHAIN].append(f"{_physdev('out', device)} -j {chain('i', port)}")
        chains[SG_CHAIN].append(f"{_physdev('in', device)} -j {chain('o', port)}")
        chains[INPUT].append(f"{_physdev('in', device)} -j {chain('o', port)}")
        chains |= chains_of(port)
    chains[SG_CHAIN].append("-j ACCEPT")
    for device in sorted(set(ports) - set(filtered)):  # after every filtered port's jumps
        for direction in ("out", "in"):
            chains[FORWARD].append(f"{_physdev(direction, device)} -j ACCEPT")
    raw = [f"-i {bridge_name(net)} -j CT --zone {zone}" for net, zone in sorted(zones.items())] + [
        f"-m physdev --physdev-in {d} -j CT --zone {zones[p['network_id']]}"
        for d, p in sorted(ports.items())
        if p["network_id"] in zones
    ]
    gone = sorted(stale - set(chains))
    lines = ["*raw", f":{PREROUTING} - [0:0]", *(f"-A {PREROUTING} {r}" for r in raw), "COMMIT"]
    lines += ["*filter", *(f":{c} - [0:0]" for c in [*chains, *gone])]
    lines += [f"-A {c} {r}" for c, rules in chains.items() for r in rules]
    lines += [f"-X {c}" for c in gone]
    return "\n".join([*lines, "COMMIT", ""])


def filter_chains(text: str) -> set[str]:
    """The chains a ``ruleset`` leaves in the filter table: declared, not deleted."""
    filter_part = text[text.index("*filter") :]
    declared = {line[1:].split()[0] for line in filter_part.splitlines() if line[:1] == ":"}
    return declared - {line.split()[1] for line in filter_part.splitlines() if line[:3] == "-X "}
