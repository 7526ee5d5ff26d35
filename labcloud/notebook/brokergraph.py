"""The broker view's graph: exchanges, bindings and queues from a broker snapshot, and the
services seen publishing and consuming, with the seed's roles, laid out by graphviz.

The seed names the parts of an RPC: an **Invoker** (nova-api, the scheduler ...) sends with
a **Topic Publisher** to a topic exchange; a **Worker** (nova-compute, the conductor ...)
takes requests with a **Topic Consumer** from its queues; for a call, the worker's **Direct
Publisher** sends the answer (through the default exchange, routing key = the reply
queue's name) and the invoker's **Direct Consumer** takes it from its ``reply_<uuid>``
queue. A service is drawn once it has been seen doing one of these (a MessageEvent), so the
graph shows who really talks, not who might.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import graphviz

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.trace.events import MessageEvent

DEFAULT = "(default)"  # how the nameless default exchange is drawn

# (event, kind) of a MessageEvent -> the seed's name for what the service did
ROLES: dict[tuple[str, str], str] = {
    ("publish", "call"): "Topic Publisher",
    ("publish", "cast"): "Topic Publisher",
    ("publish", "fanout"): "Topic Publisher",
    ("publish", "reply"): "Direct Publisher",
    ("deliver", "call"): "Topic Consumer",
    ("deliver", "cast"): "Topic Consumer",
    ("deliver", "fanout"): "Topic Consumer",
    ("deliver", "reply"): "Direct Consumer",
}


@dataclass(frozen=True, order=True)
class Link:
    """A service publishing to an exchange (``publish``) or consuming a queue (``deliver``)."""

    event: str
    service: str
    target: str  # the exchange's or the queue's name
    role: str


def node_id(kind: str, name: str) -> str:
    """The SVG id of a node: ``x:nova`` (exchange), ``q:scheduler`` (queue), ``s:nova-api``."""
    return f"{kind}:{name or DEFAULT}"


def gv_name(kind: str, name: str) -> str:
    """The graphviz node name (a ``:`` there would mean a port): the id is set apart."""
    return f"{kind}_{name or DEFAULT}"


def edge_id(exchange: str, queue: str) -> str:
    """A binding's edge."""
    return f"b:{exchange or DEFAULT}|{queue}"


def link_id(link: Link) -> str:
    """A service's edge: ``p:nova-api|nova`` (publishes to), ``c:scheduler|nova-scheduler``."""
    if link.event == "publish":
        return f"p:{link.service}|{link.target or DEFAULT}"
    return f"c:{link.target}|{link.service}"


def link_of(e: MessageEvent) -> Link | None:
    """What a message event says about its service, or None (an ack, an unnamed service)."""
    role = ROLES.get((e.event, e.kind))
    if role is None or not e.service:
        return None
    return Link(e.event, e.service, e.exchange if e.event == "publish" else e.queue, role)


def is_reply(queue: str) -> bool:
    return queue.startswith("reply_")


def is_fanout(queue: str) -> bool:
    return "_fanout_" in queue


def hide_trace(name: str) -> bool:
    """The trace's own queues are the watcher's, not the cloud's: never drawn."""
    return name.startswith("labcloud.trace")


def roles_of(links: Iterable[Link]) -> dict[str, list[str]]:
    """service -> ["Invoker"], ["Worker"] or both, from what it was seen doing."""
    out: dict[str, set[str]] = {}
    for link in links:
        who = "Invoker" if link.role in ("Topic Publisher", "Direct Consumer") else "Worker"
        out.setdefault(link.service, set()).add(who)
    return {s: sorted(r) for s, r in out.items()}


def visible(
    snapshot: BrokerSnapshot, links: Iterable[Link], *, hide: Callable[[str], bool]
) -> tuple[list[str], list[Link]]:
    """The queues drawn, and the service links among them (a hidden queue hides its links;
    a link to an exchange or queue the broker no longer has is left out)."""
    queues = [q.name for q in snapshot.queues if not hide(q.name)]
    names, exchanges = set(queues), {x.name for x in snapshot.exchanges}
    shown = [
        link
        for link in sorted(set(links))
        if (link.event == "publish" and link.target in exchanges)
        or (link.event == "deliver" and link.target in names)
    ]
    return queues, shown


def topology(snapshot: BrokerSnapshot, links: Iterable[Link], hide: Callable[[str], bool]) -> str:
    """A digest of what the layout depends on: a new one means a new layout."""
    queues, shown = visible(snapshot, links, hide=hide)
    parts = sorted(f"q{q}" for q in queues)
    parts += sorted(f"b{b.exchange}|{b.routing_key}|{b.queue}" for b in snapshot.bindings)
    parts += [f"l{link_id(link)}|{link.role}" for link in shown]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def layout(snapshot: BrokerSnapshot, links: Iterable[Link], *, hide: Callable[[str], bool]) -> str:
    """The graph as SVG, left to right: exchanges, queues, then the services; a service's
    publishing edge goes back to its exchange."""
    g = graphviz.Digraph(
        graph_attr={"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.12", "ranksep": "0.6"}
    )
    g.attr("node", fontname="sans-serif", fontsize="11")
    g.attr("edge", fontname="sans-serif", fontsize="10", color="#888888", fontcolor="#444444")
    queues, shown = visible(snapshot, links, hide=hide)
    names = set(queues)
    bindings = [b for b in snapshot.bindings if b.queue in names and b.exchange]
    replies = [q for q in queues if is_reply(q)]
    used = {b.exchange for b in bindings} | {k.target for k in shown if k.event == "publish"}
    if replies:
        used.add("")
    for ex in snapshot.exchanges:
        if ex.name in used:
            g.node(
                gv_name("x", ex.name),
                f"{ex.name or DEFAULT}\n({ex.type} exchange)",
                id=node_id("x", ex.name),
                shape="hexagon" if ex.type == "fanout" else "box",
                style="rounded,filled",
                fillcolor="#fde7c8",
            )
    depth = {q.name: q for q in snapshot.queues}
    for name in queues:
        q = depth[name]
        g.node(
            gv_name("q", name),
            f"{name}\n{q.messages} ready · {q.consumers} consumers · 0.0/s",  # room to update
            id=node_id("q", name),
            shape="cylinder",
            style="filled",
            fillcolor="#e5e5e5" if is_reply(name) else "#d7e8fb",
        )
    for b in bindings:
        g.edge(
            gv_name("x", b.exchange),
            gv_name("q", b.queue),
            label=b.routing_key or "(any key)",
            id=edge_id(b.exchange, b.queue),
        )
    for name in replies:  # the default exchange binds every queue by its own name
        g.edge(
            gv_name("x", ""),
            gv_name("q", name),
            label="key = queue name",
            id=edge_id("", name),
            style="dashed",
        )
    for service, roles in sorted(roles_of(shown).items()):
        g.node(
            gv_name("s", service),
            f"{service}\n{' · '.join(roles)}",
            id=node_id("s", service),
            shape="box",
            style="filled",
            fillcolor="#d3f9d8",
        )
    for link in shown:
        if link.event == "publish":
            ends = (gv_name("s", link.service), gv_name("x", link.target))
        else:
            ends = (gv_name("q", link.target), gv_name("s", link.service))
        g.edge(
            *ends,
            label=link.role,
            id=link_id(link),
            color="#2f9e44",
            fontcolor="#2b8a3e",
            constraint="false" if link.event == "publish" else "true",
        )
    svg: bytes = g.pipe(format="svg")
    return svg.decode()
