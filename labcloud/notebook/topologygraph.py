"""The network topology view's graph: one box per namespace (a host, the fabric that plays
the physical networks, a DHCP server, a router, an instance), the links inside it, and
what joins them, laid out by graphviz from an Inventory read off the kernel.

Edges: a port to its bridge (solid), the two ends of a veth (dashed: a tap on a host and
the instance's ``eth0``, a host's ``data0`` and the fabric's ``d1`` ...), a VXLAN or VLAN
device to the link that carries it (dotted, with its VNI or VLAN id), dnsmasq to the
interface it serves. Element ids: ``l:<namespace>/<link>``, ``p:<namespace>/<program>``.
"""

from __future__ import annotations

from collections.abc import Mapping

import graphviz

from labcloud.netns.inventory import Inventory, Link, Namespace

COLORS = {  # a namespace's kind -> its box's colour
    "fabric": "#f1f3f5",
    "host": "#e7f5ff",
    "dhcp": "#fff4e6",
    "router": "#f3f0ff",
    "instance": "#ebfbee",
    "other": "#f8f9fa",
}
KIND_WORDS = {
    "fabric": "the physical networks (switches)",
    "host": "host",
    "dhcp": "DHCP server",
    "router": "router",
    "instance": "instance",
    "other": "namespace",
}


def link_id(ns: str, link: str) -> str:
    return f"l:{ns}/{link}"


def program_id(ns: str, name: str) -> str:
    return f"p:{ns}/{name}"


def _gv(element_id: str) -> str:
    """A graphviz node name (``:`` would mean a port there)."""
    return element_id.replace(":", "_")


def named(text: str, names: Mapping[str, str]) -> str:
    """The name of the server or network whose id ``text`` ends with or starts (a bridge
    keeps 11 characters of its network's id), or ""."""
    for uuid, name in names.items():
        if text and (uuid.startswith(text) or text.endswith(uuid)):
            return name
    return ""


def cluster_label(ns: Namespace, names: Mapping[str, str]) -> str:
    role = ns.role
    for prefix in ("qdhcp-", "qrouter-", "i-"):
        if role.startswith(prefix):
            ident = role.removeprefix(prefix)
            name = named(ident, names)
            role = f"{prefix}{ident[:8]}…" + (f" ({name})" if name else "")
    others = sorted({p.name for p in ns.processes if p.name != "dnsmasq"})
    runs = f"\nruns {', '.join(others)}" if others else ""
    return f"{KIND_WORDS[ns.kind]} · {role}{runs}"


def link_label(link: Link, names: Mapping[str, str]) -> str:
    what = link.kind or "device"
    if link.kind == "bridge":
        network = named(link.name.removeprefix("brq"), names)
        what = f"bridge{f' of {network}' if network else ''}"
    elif link.kind == "vxlan":
        what = f"VXLAN, VNI {link.vni}"
    elif link.kind == "vlan":
        what = f"VLAN {link.vlan} (802.1Q)"
    lines = [link.name, what, *link.addresses]
    return "\n".join(lines)


def dnsmasq_label(leases: int) -> str:
    return f"dnsmasq\n{leases} lease{'s' * (leases != 1)}"


def layout(inventory: Inventory, names: Mapping[str, str] | None = None) -> str:
    """The inventory as SVG, left to right: instances, DHCP servers and routers, then the
    hosts (taps, bridges, the links that leave them), then the fabric."""
    names = names or {}
    g = graphviz.Graph(
        graph_attr={
            "rankdir": "LR",
            "bgcolor": "transparent",
            "nodesep": "0.15",
            "ranksep": "0.45",
            "fontname": "sans-serif",
            "fontsize": "11",
        }
    )
    g.attr("node", fontname="sans-serif", fontsize="10", shape="box", style="rounded,filled")
    g.attr("edge", fontname="sans-serif", fontsize="9", color="#868e96", fontcolor="#495057")
    for ns in inventory.namespaces:
        with g.subgraph(name=f"cluster_{ns.name}") as box:
            box.attr(
                label=cluster_label(ns, names),
                id=f"ns:{ns.name}",
                style="rounded,filled",
                fillcolor=COLORS[ns.kind],
                color="#adb5bd",
            )
            for link in ns.links:
                ident = link_id(ns.name, link.name)
                box.node(
                    _gv(ident),
                    link_label(link, names),
                    id=ident,
                    fillcolor="#ffe8cc" if link.kind == "bridge" else "#ffffff",
                    style="filled" if link.kind == "bridge" else "rounded,filled",
                )
            for p in ns.processes:
                if p.name == "dnsmasq":
                    ident = program_id(ns.name, p.name)
                    box.node(
                        _gv(ident),
                        dnsmasq_label(len(p.leases)),
                        id=ident,
                        shape="note",
                        style="filled",
                        fillcolor="#fff3bf",
                    )
    _edges(g, inventory)
    svg: bytes = g.pipe(format="svg")
    return svg.decode()


UPLINKS = ("vxlan", "vlan")  # a bridge's link off the host: drawn to the bridge's right
ORDER = {"instance": 0, "dhcp": 0, "router": 0, "other": 0, "host": 1, "fabric": 2}


def _edges(g: graphviz.Graph, inventory: Inventory) -> None:
    kinds = {ns.name: ns.kind for ns in inventory.namespaces}
    drawn: set[tuple[str, str]] = set()
    for ns in inventory.namespaces:
        for link in ns.links:
            here = link_id(ns.name, link.name)
            if link.master:
                bridge = link_id(ns.name, link.master)
                uplink = link.kind in UPLINKS or link.name.startswith("phy")
                ends = (bridge, here) if uplink else (here, bridge)
                g.edge(_gv(ends[0]), _gv(ends[1]), id=f"m:{here}")
            if link.lower:
                how = f"VNI {link.vni}" if link.kind == "vxlan" else f"VLAN {link.vlan}"
                g.edge(
                    _gv(here),
                    _gv(link_id(ns.name, link.lower)),
                    label=f"over ({how})",
                    style="dotted",
                    id=f"o:{here}",
                )
            if link.peer and link.peer[0] in kinds:
                there = link_id(*link.peer)
                # outside in: an instance's end first, then the host's, then the fabric's
                rank = (ORDER[ns.kind], here), (ORDER[kinds[link.peer[0]]], there)
                pair = (min(rank)[1], max(rank)[1])
                if pair not in drawn:
                    drawn.add(pair)
                    g.edge(
                        _gv(pair[0]),
                        _gv(pair[1]),
                        style="dashed",
                        color="#1c7ed6",
                        id=f"v:{min(here, there)}|{max(here, there)}",
                    )
        for p in ns.processes:
            if p.name == "dnsmasq" and p.interface:
                g.edge(
                    _gv(program_id(ns.name, p.name)),
                    _gv(link_id(ns.name, p.interface)),
                    label="serves DHCP",
                    style="dashed",
                    id=f"s:{ns.name}",
                )
