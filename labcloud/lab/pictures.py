"""Pictures in the labs: a graphviz drawing, or one sentence saying how to get graphviz."""

from __future__ import annotations

import shutil
from typing import Any

NO_GRAPHVIZ = (
    "(This picture needs Graphviz's `dot` program, which is not installed: "
    "`sudo apt-get install graphviz` installs it, and `./run lab` does it for you.)"
)


def draw(graph: Any) -> Any:
    """``graph`` itself, which the notebook shows as a picture, when Graphviz can draw it;
    otherwise a sentence saying how to install it (never a traceback)."""
    if shutil.which("dot") is None:
        print(NO_GRAPHVIZ)
        return None
    return graph


def rpc_roles(events: list[Any]) -> Any:
    """The seed's RPC roles as the traced events show them: who published to which exchange
    (Topic or Direct Publisher), which queue a message went to, who consumed it (Topic or
    Direct Consumer), each service named Invoker or Worker by what it did."""
    import re

    import graphviz

    from labcloud.notebook.brokergraph import DEFAULT, link_of, roles_of

    def short(name: str) -> str:  # a reply queue's uuid: its shape, the same in every run
        return re.sub(r"_[0-9a-f]{32}$", "_<uuid>", name)

    g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"fontsize": "10"})
    g.attr("edge", fontsize="9")
    links = [link for e in events if (link := link_of(e)) is not None]
    for service, roles in roles_of(links).items():
        g.node(f"s {service}", f"{service}\n({' · '.join(roles).lower()})", shape="box")
    drawn: set[tuple[str, str, str]] = set()

    def edge(a: str, b: str, label: str) -> None:
        if (a, b, label) not in drawn:
            drawn.add((a, b, label))
            g.edge(a, b, label=label)

    for e in events:
        link = link_of(e)
        if link is None:
            continue
        exchange, queue = f"x {e.exchange}", f"q {short(e.queue)}"
        g.node(exchange, f"exchange {e.exchange or DEFAULT}", shape="hexagon")
        if link.event == "publish":
            edge(f"s {link.service}", exchange, link.role)
        else:
            g.node(queue, f"queue {short(e.queue)}", shape="cylinder")
            edge(exchange, queue, f"key {short(e.routing_key)}")
            edge(queue, f"s {link.service}", link.role)
    return draw(g)
