"""Netfilter's tools run in a host's network namespace for the L2 agent's firewall:
``iptables-restore`` and ``ip6tables-restore`` (security groups), ``ebtables-restore`` (ARP
and MAC spoofing), ``conntrack`` (flows a removed rule let in) and ``ipset`` (a remote
group's members), as neutron's agents run them as root.

Debian 12 has the first three in its ``iptables`` package (the nftables variants, chosen by
update-alternatives), ``conntrack`` in ``conntrack`` and ``ipset`` in ``ipset``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from labcloud.netns import links, procs
from labcloud.netns.links import DatapathError

TIMEOUT = 30.0  # seconds: a restore of a host's whole ruleset
PACKAGES = {
    "iptables-restore": "iptables",
    "ip6tables-restore": "iptables",
    "ebtables-restore": "iptables",
    "conntrack": "conntrack",
    "ipset": "ipset",
}


def require_tools() -> None:
    """Raise, naming the Debian packages, when a tool the firewall runs is missing: a
    firewall that could not cut a flow or stop a spoofed ARP would only look like one."""
    missing = sorted(t for t in PACKAGES if shutil.which(t) is None)
    if missing:
        packages = " ".join(sorted({PACKAGES[t] for t in missing}))
        raise DatapathError(
            reason=f"the iptables firewall needs {', '.join(missing)} (Debian: {packages})"
        )


class Netfilter:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    def exists(self) -> bool:
        """Is the namespace still there? (a host gone took its tables along)"""
        return os.path.exists(f"{links.NETNS_DIR}/{self.ns}")

    def run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the namespace, whatever its exit status."""
        return procs.run(self.ns, argv, TIMEOUT, stdin)

    def check(self, argv: list[str], stdin: str | None = None) -> str:
        """Run ``argv`` in the namespace; its output, or DatapathError if it failed."""
        return procs.check(self.ns, argv, stdin, TIMEOUT)

    def restore(self, tool: str, text: str) -> None:
        """``iptables-restore`` or ``ebtables-restore`` ``--noflush``: the chains ``text``
        declares are flushed and rewritten at once, the others left as they are."""
        self.check([tool, "--noflush"], text)


def changed_chains(old: str, new: str) -> str:
    """The part of restore input ``new`` (iptables- or ebtables-restore's, as the firewall
    writes it: each table's chains declared, then their rules, then ``-X``) that differs
    from ``old``: only the chains whose rules changed are declared (so flushed) and
    rewritten, the deletions kept; "" when nothing changed. neutron's iptables manager
    likewise writes only differences: iptables-nft rebuilds every chain it is given."""
    before = _chains(old)
    lines: list[str] = []
    for table, (chains, deleted) in _chains(new).items():
        kept = before.get(table, ({}, []))[0]
        changed = [c for c, rules in chains.items() if kept.get(c) != rules or c in deleted]
        if changed or deleted:
            lines += [f"*{table}", *(chains[c][0] for c in changed)]
            lines += [f"-A {c} {r}" for c in changed if c not in deleted for r in chains[c][1:]]
            lines += [*(f"-X {c}" for c in deleted), "COMMIT"]
    return "\n".join([*lines, ""]) if lines else ""


def _chains(text: str) -> dict[str, tuple[dict[str, list[str]], list[str]]]:
    """Restore input as {table: ({chain: [its declaration, its rules...]}, chains deleted)}."""
    found: dict[str, tuple[dict[str, list[str]], list[str]]] = {}
    chains: dict[str, list[str]] = {}
    deleted: list[str] = []
    for line in text.splitlines():
        if line.startswith("*"):
            chains, deleted = {}, []
            found[line[1:]] = (chains, deleted)
        elif line.startswith(":"):
            chains[line[1:].split()[0]] = [line]
        elif line.startswith("-A "):
            name, _, rule = line[3:].partition(" ")
            chains[name].append(rule)
        elif line.startswith("-X "):
            deleted.append(line[3:])
    return found
