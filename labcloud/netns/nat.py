"""iptables inside a namespace, as neutron's IptablesManager keeps a router's: a table is
written whole with ``iptables-restore`` (one atomic commit: a change never leaves half a
rule set), its rules read back with ``iptables-save``. On Debian 12 ``iptables`` is
iptables-nft: the same rules, kept by the kernel's nftables. The rules live in the
namespace and go with it."""

from __future__ import annotations

import logging
import shutil

from labcloud.netns import procs

LOG = logging.getLogger(__name__)
BUILTIN = {
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}


def restore(ns: str, table: str, chains: list[str], rules: list[str]) -> None:
    """Replace ``table`` in ``ns`` with the built-in chains (policy ACCEPT), ``chains`` of
    labcloud's own and ``rules`` (``-A CHAIN ...`` lines)."""
    lines = [f"*{table}"]
    lines += [f":{c} ACCEPT [0:0]" for c in BUILTIN[table]]
    lines += [f":{c} - [0:0]" for c in chains]
    lines += [*rules, "COMMIT", ""]
    procs.check(ns, ["iptables-restore"], "\n".join(lines))


def save(ns: str, table: str) -> list[str]:
    """The rules of ``table`` in ``ns`` now, as ``-A CHAIN ...`` lines."""
    out = procs.check(ns, ["iptables-save", "-t", table])
    return [line for line in out.splitlines() if line.startswith("-A ")]


def enable_forwarding(ns: str) -> None:
    """net.ipv4.ip_forward=1 in ``ns`` (each namespace has its own; the host's is untouched)."""
    procs.check(ns, ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])


def forget(ns: str, address: str) -> None:
    """Drop ``ns``'s connection tracking entries to or from ``address`` (neutron does it for
    a floating IP it takes away: without it, a flow NATed before goes on being NATed)."""
    if shutil.which("conntrack") is None:
        LOG.warning("conntrack is not installed (Debian: conntrack): old flows to %s stay", address)
        return
    for direction in ("--orig-dst", "--reply-dst"):
        argv = ["conntrack", "-D", direction, address]
        procs.run(ns, argv)  # exit status 1: there was nothing to delete


def flows(ns: str, address: str) -> list[str]:
    """``ns``'s connection tracking entries to ``address`` (``conntrack -L``)."""
    out = procs.run(ns, ["conntrack", "-L", "--orig-dst", address]).stdout
    return [line for line in out.splitlines() if line.strip()]
