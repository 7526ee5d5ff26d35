"""MAC and ARP spoofing protection on a linuxbridge host, as neutron's linuxbridge agent
had it (neutron/plugins/ml2/drivers/linuxbridge/agent/arp_protect.py): ebtables, at the
bridge, before any forwarding decision, for every kind of frame, not only IPv4.

    nat PREROUTING → neutron-PREROUTING → per filtered tap:
        -i tap… -j neutronMAC-tap…          any frame in from the tap
        -p ARP -i tap… -j neutronARP-tap…   its ARP packets
    neutronMAC-tap…: -i tap… --among-src <its MACs> -j RETURN · -j DROP
    neutronARP-tap…: -p ARP --arp-ip-src <an address> --arp-mac-src <its MAC> -j ACCEPT
                     per address · -j DROP

So a guest that takes another MAC is cut off, and one that answers ARP for a neighbour's
address (or announces it, gratuitous ARP) is dropped at the bridge: no neighbour's cache
is poisoned. IPv4 packets are checked again by the iptables firewall (its ``s`` chains).
A port's addresses are its fixed IPs and its allowed address pairs; a pair with a /0
prefix allows any address, so its port gets no ARP chain (neutron's rule too).

neutron adds each tap's two jumps to PREROUTING itself, an ebtables call each, and its ARP
chains check the sender IP only; here the jumps hang from one chain of the agent's,
written with the port chains in one ``ebtables-restore`` (after the first, only the chains
that changed), and the ARP chains check the sender MAC with each address.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from labcloud.network.agents.firewall import Port, is_filtered
from labcloud.network.agents.netfilter import Netfilter, changed_chains

DISPATCH = "neutron-PREROUTING"
MAC_CHAIN, ARP_CHAIN = "neutronMAC-", "neutronARP-"  # + the tap's name
PREFIXES = (DISPATCH, MAC_CHAIN, ARP_CHAIN)


def mac_ip_pairs(port: Port) -> list[tuple[str, str]]:
    """(MAC, IPv4 address or prefix) the port may send from: its own MAC with each fixed
    IP, and each allowed address pair (with the port's MAC unless the pair names one)."""
    pairs = [(port["mac_address"], ip) for ip in port["fixed_ips"]]
    for pair in port.get("allowed_address_pairs") or []:
        pairs.append((pair.get("mac_address") or port["mac_address"], pair["ip_address"]))
    return [(mac.lower(), ip) for mac, ip in pairs if ":" not in ip]


def port_chains(device: str, port: Port) -> dict[str, list[str]]:
    """A filtered port's two chains (the rules after ``-A <chain>``)."""
    pairs = mac_ip_pairs(port)
    macs = sorted({port["mac_address"].lower(), *(mac for mac, _ in pairs)})
    chains = {MAC_CHAIN + device: [f"-i {device} --among-src {','.join(macs)} -j RETURN"]}
    if not any(ipaddress.ip_network(ip, strict=False).prefixlen == 0 for _, ip in pairs):
        chains[ARP_CHAIN + device] = [
            f"-p ARP --arp-ip-src {ip} --arp-mac-src {mac} -j ACCEPT" for mac, ip in sorted(pairs)
        ]
    return {name: [*rules, "-j DROP"] for name, rules in chains.items()}


def ruleset(ports: dict[str, Port], stale: set[str]) -> str:
    """``ebtables-restore --noflush`` input for the nat table: the dispatch chain and every
    filtered port's chains, rewritten; ``stale``: chains written before, deleted if unused."""
    chains: dict[str, list[str]] = {DISPATCH: []}
    for device, port in sorted(ports.items()):
        if not is_filtered(port):
            continue  # port security off, or the network's own (DHCP, router): trusted
        mine = port_chains(device, port)
        chains[DISPATCH] += [f"-i {device} -j {MAC_CHAIN}{device}"]
        if ARP_CHAIN + device in mine:
            chains[DISPATCH] += [f"-p ARP -i {device} -j {ARP_CHAIN}{device}"]
        chains |= mine
    gone = sorted(stale - set(chains))
    lines = ["*nat", *(f":{c} ACCEPT" for c in [*chains, *gone])]
    lines += [f"-A {c} {r}" for c, rules in chains.items() for r in rules]
    return "\n".join([*lines, *(f"-X {c}" for c in gone), "COMMIT", ""])


class ArpProtection:
    """The ebtables side of the firewall: called with its ports after each change."""

    def __init__(self, tools: Netfilter) -> None:
        self.tools = tools
        self._chains: set[str] | None = None  # written last time; None: not read yet
        self._written = ""  # the last restore's text

    def apply(self, ports: dict[str, Any]) -> None:
        """Rewrite every chain, unless they would be the same (a group's rules or members
        changed: not its ports' MACs and addresses); the first time, what a crashed agent
        left is read, removed where unused, and the dispatch chain hooked into PREROUTING."""
        first = self._chains is None
        stale = self._existing() if self._chains is None else self._chains
        text = ruleset(ports, stale)
        if text == self._written:
            return
        self.tools.restore(
            "ebtables-restore", text if first else changed_chains(self._written, text)
        )
        self._written = text
        self._chains = {line[1:].split()[0] for line in text.splitlines() if line[:1] == ":"}
        self._chains -= {line.split()[1] for line in text.splitlines() if line[:3] == "-X "}
        if first and not self._hooked():
            self.tools.check(["ebtables", "-t", "nat", "-I", "PREROUTING", "1", "-j", DISPATCH])

    def cleanup(self) -> None:
        """Unhook and delete every chain of this module's names; safe to repeat."""
        self._chains, self._written = None, ""
        if not self.tools.exists():
            return
        while self._hooked():
            self.tools.check(["ebtables", "-t", "nat", "-D", "PREROUTING", "-j", DISPATCH])
        mine = sorted(self._existing())
        text = "*nat\n" + "".join(f":{c} ACCEPT\n" for c in mine)
        self.tools.restore(
            "ebtables-restore", text + "".join(f"-X {c}\n" for c in mine) + "COMMIT\n"
        )

    def _saved(self) -> list[str]:
        return self.tools.check(["ebtables-save", "-t", "nat"]).splitlines()

    def _existing(self) -> set[str]:
        """Chains of these names in the host's nat table now."""
        return {line[1:].split()[0] for line in self._saved() if line.startswith(PREFIXES, 1)}

    def _hooked(self) -> bool:
        return f"-A PREROUTING -j {DISPATCH}" in self._saved()
