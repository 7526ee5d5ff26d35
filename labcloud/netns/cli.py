"""``labcloud netns-cleanup``: remove what a cloud on the real datapath left behind.

neutron ships the same kind of tool (``neutron-netns-cleanup``, ``neutron-linuxbridge-cleanup``)
for a host whose agents died without tidying up. Everything labcloud's datapath makes lives in
network namespaces named ``lc-<tag>-...`` (hosts, the fabric, ``qdhcp-``, ``qrouter-``, the
instances' namespaces, "the internet"): their bridges, VXLAN and VLAN links, veths, iptables
rules, ipsets and dnsmasq processes go with them.
"""

from __future__ import annotations

import argparse
import os

from labcloud.netns import fabric, links


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser(
        "netns-cleanup",
        help="remove the network namespaces, bridges and dnsmasq of clouds that are gone",
        description=__doc__,
        epilog="examples:\n  labcloud netns-cleanup --list\n  labcloud netns-cleanup\n"
        "  labcloud netns-cleanup --tag 3f2a",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--tag", default=None, help="only the cloud with this tag (lc-<tag>-...)")
    c.add_argument("--list", action="store_true", help="show what would go, remove nothing")
    c.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("netns-cleanup needs root: network namespaces are the machine's (sudo it)")
        return 1
    prefix = f"{fabric.PREFIX}{args.tag}-" if args.tag else fabric.PREFIX
    if args.list:
        found = links.namespaces(prefix)
        print("\n".join(found) if found else f"no namespace named {prefix}*")
        return 0
    gone = fabric.cleanup(args.tag)
    for ns in gone:
        print(f"removed {ns}")
    if not gone:
        print(f"nothing to remove: no namespace named {prefix}*")
    return 0
