"""neutron's iptables firewall on a linuxbridge host: security groups per port, stateful.

A packet crossing a bridge goes through iptables because br_netfilter is loaded and
``net.bridge.bridge-nf-call-iptables`` is 1 in the host's namespace (set here: since Linux
5.3 it is per namespace); ``-m physdev`` tells which tap it came in by or goes out by.
Chains carry neutron's names (``neutron-linuxbri-`` is the agent's binary name cut to 16
characters, as neutron's iptables manager wraps it), so ``iptables -S`` in a host's
namespace reads as on a neutron compute node; the namespace (``lc-<tag>-<host>``) is what
marks them as labcloud's:

    FORWARD → neutron-linuxbri-FORWARD → per tap: -m physdev --physdev-out/-in tap… →
      neutron-linuxbri-sg-chain → neutron-linuxbri-i<port> (into the port),
                                   neutron-linuxbri-o<port> (out of it) → … → ACCEPT
    INPUT → neutron-linuxbri-INPUT → -o<port> (a port talking to the host itself)
    i<port>: ESTABLISHED,RELATED return · INVALID drop · the ingress rules · sg-fallback (DROP)
    o<port>: DHCP discover · s<port> (anti-spoofing: its MAC with each of its addresses) ·
             DHCP requests · no DHCP server · ESTABLISHED,RELATED · INVALID drop ·
             the egress rules · sg-fallback
    raw PREROUTING → neutron-linuxbri-PREROUTING: a conntrack zone per network
                     (two networks may use the same addresses)

The first change writes all of these chains in one ``iptables-restore --noflush`` (a
chain it names is flushed first, so what is written is all there is); after it, only the
chains whose rules changed (netfilter.changed_chains), and nothing when none did, as
neutron's iptables manager writes only its differences. A rule naming a remote group is
one ``-m set --match-set`` of the group's ipset (``enable_ipset``, neutron's default;
ipset.py), so a member coming or going changes the set, not the chains; without ipset it
is one rule per member. Then the ebtables chains against MAC and ARP
spoofing (arp_protect.py), and the flows only removed rules let in are cut
(ip_conntrack.py). IPv6 gets the same chains in ip6tables, with its own fixed rules
(ip6tables_firewall.py). Stateless groups (``stateful=False``) are left out: stateful here.
The rules' text is built in iptables_rules.py; this driver writes it and keeps its state.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping

from labcloud.network.agents import ip6tables_firewall, ip_conntrack, ipset, wrapped_chains
from labcloud.network.agents.arp_protect import ArpProtection
from labcloud.network.agents.firewall import Port, is_filtered
from labcloud.network.agents.iptables_rules import SYSCTL, ZONE_START, port_chains
from labcloud.network.agents.netfilter import Netfilter, require_tools
from labcloud.network.sgrules import per_member


class IptablesFirewall:
    def __init__(self, ns: str, enable_ipset: bool = True) -> None:
        """``ns``: the host's network namespace (where its bridges are); ``enable_ipset``:
        remote groups as ipsets (the agent then leaves their rules unexpanded)."""
        require_tools()
        self.ns = ns
        self.enable_ipset = enable_ipset
        self.tools = Netfilter(ns)
        self._arp = ArpProtection(self.tools)
        self._v4 = wrapped_chains.WrappedTables(self.tools, "iptables", SYSCTL, port_chains)
        self._v6 = wrapped_chains.WrappedTables(
            self.tools, "ip6tables", ip6tables_firewall.SYSCTL, ip6tables_firewall.port_chains
        )
        self._ipsets = ipset.IpsetManager(self.tools)
        self._members: dict[str, dict[str, list[str]]] = {}  # remote groups' addresses
        self._lock = threading.Lock()
        self._ports: dict[str, Port] = {}
        self._zones: dict[str, int] = {}

    def prepare_port_filters(self, ports: list[Port]) -> None:
        with self._lock:
            if not ports and self._v4.ready:
                return
            before = {p["device"]: self._ports.get(p["device"]) for p in ports}
            self._ports |= {p["device"]: p for p in ports}
            for port in ports:
                if port["network_id"] not in self._zones:
                    used = set(self._zones.values())
                    zone = next(z for z in itertools.count(ZONE_START) if z not in used)
                    self._zones[port["network_id"]] = zone
            self._apply()
            self._cut(before)

    def remove_port_filters(self, devices: list[str]) -> None:
        with self._lock:
            before = {d: self._ports[d] for d in devices if d in self._ports}
            if before:
                for device in devices:
                    self._ports.pop(device, None)
                zones = dict(self._zones)
                networks = {p["network_id"] for p in self._ports.values()}
                self._zones = {n: z for n, z in self._zones.items() if n in networks}
                self._apply()
                self._cut(before, zones)

    def ports(self) -> dict[str, Port]:
        with self._lock:
            return dict(self._ports)

    def update_security_group_members(self, members: dict[str, dict[str, list[str]]]) -> None:
        """The remote groups' addresses by ethertype (the server's ``sg_member_ips``), before
        the ports naming them are filtered: their sets are brought up to date, and the flows
        a member gone was let in by are cut (neutron's delete_conntrack_state_by_remote_ips)."""
        with self._lock:
            shrunk = {
                g
                for g, by in members.items()
                if any(set(self._members.get(g, {}).get(e, [])) - set(a) for e, a in by.items())
            }
            before = {
                d: self._per_member(p)
                for d, p in self._ports.items()
                if any(r.get("remote_group_id") in shrunk for r in p["security_group_rules"])
            }
            self._members |= members
            self._ipsets.set_members(
                {ipset.set_name(g, e): a for g, by in members.items() for e, a in by.items()}
            )
            self._cut(before)

    def cleanup(self) -> None:
        """Unhook and delete every ``neutron-linuxbri-`` chain, a crashed agent's too, and
        the ebtables chains."""
        with self._lock:
            self._ports.clear()
            self._zones.clear()
            self._members.clear()
            if not self.tools.exists():  # the host is gone, and its tables with it
                self._v4.forget()
                self._v6.forget()
                return
            self._v4.cleanup()
            self._v6.cleanup()
            self._ipsets.cleanup()  # once no chain names them
            self._arp.cleanup()

    # -- the host's tables -----------------------------------------------------------------
    def _apply(self) -> None:
        """The sets the rules name first (created empty if new), then the iptables and
        ip6tables chains (each only what changed), unused sets, then the ebtables chains."""
        used = self._used_sets()
        self._ipsets.set_members({n: [] for n in used - self._ipsets.names()})  # none known yet
        self._v4.apply(self._ports, self._zones)
        self._v6.apply(self._ports, self._zones)
        self._ipsets.destroy_unused(used)  # once neither table's chains name them
        self._members = {  # only the groups rules name now
            g: by for g, by in self._members.items() if {ipset.set_name(g, e) for e in by} & used
        }
        self._arp.apply(self._ports)

    def _used_sets(self) -> set[str]:
        """The sets the filtered ports' rules name."""
        return {
            ipset.set_name(r["remote_group_id"], r["ethertype"])
            for p in self._ports.values()
            if is_filtered(p)
            for r in p["security_group_rules"]
            if r.get("remote_group_id")
        }

    def _cut(self, before: Mapping[str, Port | None], zones: dict[str, int] | None = None) -> None:
        """After the tables changed: the flows only the ports' removed rules let in."""
        zones = self._zones if zones is None else zones
        commands: set[ip_conntrack.Command] = set()
        for device, old in before.items():
            new = self._ports.get(device)
            zone = zones.get((new or old or {}).get("network_id", ""))
            if zone is not None:
                commands |= ip_conntrack.cuts(self._per_member(old), self._per_member(new), zone)
        ip_conntrack.delete(self.tools, commands)

    def _per_member(self, port: Port | None) -> Port | None:
        """The port with each remote-group rule as one rule per member, as conntrack cuts
        compare them (a rule gone cuts its members' flows only)."""
        if port is None or not any(r.get("remote_group_id") for r in port["security_group_rules"]):
            return port
        rules = []
        for rule in port["security_group_rules"]:
            if rule.get("remote_group_id"):
                rules += [r for _, r in per_member(rule, self._members)]
            else:
                rules.append(rule)
        return port | {"security_group_rules": rules}
