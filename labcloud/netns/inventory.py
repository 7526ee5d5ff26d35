"""What a cloud's datapath is made of right now, read from the kernel (pyroute2) and /proc.

``read(prefix)`` looks into every network namespace whose name starts with ``prefix``
(``lc-<tag>-``: one cloud's, see labcloud.netns) and returns its links (bridges and their
ports, veths with the namespace and name of their other end, VXLAN devices with their VNI,
VLAN sub-interfaces with their id), their IPv4 addresses, and the processes running there
(dnsmasq with the interface it serves and its leases). It reads only: nothing is made,
changed or kept. Nothing outside those namespaces is read, so only labcloud's own devices
are seen. A namespace named ``qrouter-<id>`` (neutron's L3 agent) is read like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labcloud.netns import links

NO_NSID = 0xFFFFFFFF  # netlink's "no id assigned" (NETNSA_NSID_NOT_ASSIGNED as unsigned)

# a namespace's role (its name less the cloud's prefix) -> its kind
ROLE_KINDS = (("qdhcp-", "dhcp"), ("qrouter-", "router"), ("i-", "instance"))


@dataclass(frozen=True)
class Link:
    name: str
    kind: str  # veth, bridge, vxlan, vlan, ... ("" for a device with no kind)
    state: str  # the kernel's operstate: UP, DOWN, UNKNOWN
    master: str | None = None  # the bridge it is a port of
    peer: tuple[str, str] | None = None  # a veth's other end: (namespace, link name)
    vni: int | None = None  # a VXLAN device's network identifier
    vlan: int | None = None  # a VLAN sub-interface's 802.1Q id
    lower: str | None = None  # the link a VXLAN or VLAN device is carried on
    addresses: tuple[str, ...] = ()  # IPv4, as a.b.c.d/len


@dataclass(frozen=True)
class Process:
    pid: int
    name: str  # its command (``comm``)
    interface: str | None = None  # dnsmasq's --interface
    leases: tuple[str, ...] = ()  # dnsmasq: the addresses in its lease file


@dataclass(frozen=True)
class Namespace:
    name: str
    role: str  # the name less the prefix: ``compute1``, ``qdhcp-<net>``, ``i-<uuid>`` ...
    kind: str  # fabric, host, dhcp, router, instance or other
    links: tuple[Link, ...]
    processes: tuple[Process, ...] = ()


@dataclass(frozen=True)
class Inventory:
    prefix: str
    namespaces: tuple[Namespace, ...] = ()

    def shape(self) -> str:
        """A digest of what a drawing depends on: namespaces, links and how they are joined,
        addresses, and which programs run where (not their pids, states or leases)."""
        parts = []
        for ns in self.namespaces:
            parts.append(f"n|{ns.name}|{ns.kind}")
            parts += [f"l|{ns.name}|{_wiring(link)}" for link in ns.links]
            parts += sorted(f"p|{ns.name}|{p.name}|{p.interface}" for p in ns.processes)
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _wiring(link: Link) -> str:
    what = (link.name, link.kind, link.master, link.peer, link.vni, link.vlan, link.lower)
    return "|".join(str(x) for x in what) + "|" + ",".join(link.addresses)


def kind_of(role: str, names: set[str]) -> str:
    """A namespace's kind from its role and, for a host, its links to the fabric."""
    if role == "fabric":
        return "fabric"
    for prefix, kind in ROLE_KINDS:
        if role.startswith(prefix):
            return kind
    return "host" if names & {"data0", "phy0"} else "other"


def read(prefix: str) -> Inventory:
    """Every namespace named ``prefix...`` as it is now (see Reader)."""
    return Reader(prefix).read()


class Reader:
    """Reads one cloud's namespaces, again and again (a widget reads every second or two).

    It remembers, per namespace, which namespace each netlink id (nsid) names: an nsid
    stays the same while both namespaces live, and asking costs a request per namespace.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._nsids: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}

    def read(self) -> Inventory:
        """The namespaces as they are now (none without root: they cannot be entered). A
        namespace that goes while it is read is left out."""
        if not self.prefix or os.geteuid() != 0:
            return Inventory(self.prefix)
        inodes = {}
        for name in links.namespaces(self.prefix):
            with contextlib.suppress(OSError):
                inodes[name] = os.stat(f"{links.NETNS_DIR}/{name}").st_ino
        found: dict[str, tuple[list[dict[str, Any]], dict[int, str]]] = {}
        for name in inodes:
            with contextlib.suppress(links.DatapathError, OSError):
                found[name] = self._raw(name, inodes)
        known = set(inodes.items())
        self._nsids = {k: v for k, v in self._nsids.items() if k in known}
        by_index = {name: {link["index"]: link for link in raw} for name, (raw, _) in found.items()}
        running = _processes(inodes)
        namespaces = []
        for name, (raw, nsids) in found.items():
            made = tuple(_link(link, name, by_index, nsids) for link in raw)
            role = name.removeprefix(self.prefix)
            kind = kind_of(role, {x.name for x in made})
            namespaces.append(Namespace(name, role, kind, made, tuple(running.get(name, ()))))
        return Inventory(self.prefix, tuple(namespaces))

    def _raw(self, ns: str, inodes: dict[str, int]) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """(ns's links as plain dicts, nsid -> the namespace it names, seen from ns)."""
        with links.iproute(ns) as ipr:
            addrs: dict[int, list[str]] = {}
            for a in ipr.get_addr(family=2):
                address = f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                addrs.setdefault(a["index"], []).append(address)
            raw = [_plain(link, addrs) for link in ipr.get_links()]
            wanted = {int(link["nsid"]) for link in raw if link["nsid"] is not None}
            cache = self._nsids.setdefault((ns, inodes[ns]), {})
            live = set(inodes.items())
            if not wanted <= {k for k, v in cache.items() if v in live}:
                cache.clear()
                for other, inode in inodes.items():
                    if other != ns:
                        with links.namespace_fd(other) as fd:
                            answer = ipr.get_netnsid(fd=fd)
                        nsid = answer.get("nsid") if answer else None
                        if nsid is not None and nsid != NO_NSID:
                            cache[int(nsid)] = (other, inode)
        nsids = {k: name for k, (name, inode) in cache.items() if (name, inode) in live}
        return [link for link in raw if link["name"] != "lo"], nsids


def _plain(link: Any, addrs: dict[int, list[str]]) -> dict[str, Any]:
    info = link.get("IFLA_LINKINFO")
    kind = (info.get("IFLA_INFO_KIND") if info else None) or ""
    data = info.get("IFLA_INFO_DATA") if info else None
    lower = link.get("IFLA_LINK")
    vni = vlan = None
    if kind == "vxlan" and data is not None:
        vni, lower = data.get("IFLA_VXLAN_ID"), data.get("IFLA_VXLAN_LINK")
    if kind == "vlan" and data is not None:
        vlan = data.get("IFLA_VLAN_ID")
    return {
        "index": link["index"],
        "name": str(link.get("IFLA_IFNAME")),
        "kind": str(kind),
        "state": str(link.get("IFLA_OPERSTATE") or "UNKNOWN"),
        "master": link.get("IFLA_MASTER"),
        "lower": lower,
        "nsid": link.get("IFLA_LINK_NETNSID"),
        "vni": vni,
        "vlan": vlan,
        "addresses": tuple(addrs.get(link["index"], ())),
    }


def _link(
    raw: dict[str, Any],
    ns: str,
    by_index: dict[str, dict[int, dict[str, Any]]],
    nsids: dict[int, str],
) -> Link:
    here = by_index[ns]

    def name_of(index: int | None, where: str = ns) -> str | None:
        found = by_index.get(where, {}).get(index) if index else None
        return str(found["name"]) if found else None

    peer = None
    if raw["kind"] == "veth" and raw["lower"]:
        where = ns if raw["nsid"] is None else nsids.get(int(raw["nsid"]), "")
        other = name_of(raw["lower"], where)
        peer = (where, other) if other else None
    lower = name_of(raw["lower"]) if raw["kind"] in ("vxlan", "vlan") else None
    master = name_of(raw["master"]) if raw["master"] in here else None
    return Link(
        raw["name"],
        raw["kind"],
        raw["state"],
        master=master,
        peer=peer,
        vni=raw["vni"],
        vlan=raw["vlan"],
        lower=lower,
        addresses=raw["addresses"],
    )


def _processes(inodes: dict[str, int]) -> dict[str, list[Process]]:
    """The processes of each namespace, found as ``ip netns pids`` finds them (the inode of
    /proc/<pid>/ns/net), without starting a process."""
    names = {inode: name for name, inode in inodes.items()}
    found: dict[str, list[Process]] = {}
    for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
        if not entry.isdigit():
            continue
        proc = Path("/proc") / entry
        try:
            ns = names.get(os.stat(proc / "ns" / "net").st_ino)
            if ns is None:
                continue
            comm = (proc / "comm").read_text().strip()
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        found.setdefault(ns, []).append(_process(int(entry), comm, argv))
    return found


def _process(pid: int, comm: str, argv: list[str]) -> Process:
    if comm == "busybox" and len(argv) > 1:  # an applet: httpd, udhcpc ...
        return Process(pid, argv[1])
    if comm != "dnsmasq":
        return Process(pid, comm)
    options = dict(
        a.removeprefix("--").split("=", 1) for a in argv if a.startswith("--") and "=" in a
    )
    leases: tuple[str, ...] = ()
    if "dhcp-leasefile" in options:
        with contextlib.suppress(OSError):
            lines = Path(options["dhcp-leasefile"]).read_text().splitlines()
            leases = tuple(sorted(p.split()[2] for p in lines if len(p.split()) >= 4))
    return Process(pid, comm, options.get("interface"), leases)
