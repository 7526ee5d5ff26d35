"""BrokerView: exchanges → bindings → queues as a graph, depths and rates live, messages as
pulses along the edge they took.

The graph is laid out by graphviz once per topology change (a queue or binding appearing or
going); everything else is a small update addressed by element id (``q:<queue>`` for a
queue's node, ``b:<exchange>|<queue>`` for a binding's edge).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import anywidget
import graphviz
import traitlets

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.notebook.publisher import css, esm
from labcloud.trace.events import MessageEvent

SNAPSHOT_EVERY = 0.5  # seconds between broker snapshots (depths, new queues)
RATE_WINDOW = 2.0  # seconds over which rates are averaged
REPLY = "(default)"  # how the nameless default exchange is drawn


def node_id(kind: str, name: str) -> str:
    return f"{kind}:{name or REPLY}"


def gv_name(kind: str, name: str) -> str:
    """The graphviz node name (a ``:`` there would mean a port): the id is set apart."""
    return f"{kind}_{name or REPLY}"


def edge_id(exchange: str, queue: str) -> str:
    return f"b:{exchange or REPLY}|{queue}"


def layout(snapshot: BrokerSnapshot, *, hide: Callable[[str], bool]) -> str:
    """The graph as SVG: exchanges on the left, queues on the right, one edge per binding."""
    g = graphviz.Digraph(graph_attr={"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.15"})
    g.attr("node", fontname="sans-serif", fontsize="10")
    queues = [q for q in snapshot.queues if not hide(q.name)]
    names = {q.name for q in queues}
    bindings = [b for b in snapshot.bindings if b.queue in names and b.exchange]
    used = {b.exchange for b in bindings}
    for ex in snapshot.exchanges:
        if ex.name in used:
            g.node(
                gv_name("x", ex.name),
                f"{ex.name}\n({ex.type})",
                id=node_id("x", ex.name),
                shape="hexagon" if ex.type == "fanout" else "box",
                style="rounded,filled",
                fillcolor="#fde7c8",
            )
    for q in queues:
        g.node(
            gv_name("q", q.name),
            f"{q.name}\n{q.messages} ready · {q.consumers} consumers · 0.0/s",  # room to update
            id=node_id("q", q.name),
            shape="cylinder",
            style="filled",
            fillcolor="#d7e8fb",
        )
    for b in bindings:
        g.edge(
            gv_name("x", b.exchange),
            gv_name("q", b.queue),
            label=b.routing_key,
            id=edge_id(b.exchange, b.queue),
            fontsize="8",
        )
    svg: bytes = g.pipe(format="svg")
    return svg.decode()


def _topology(snapshot: BrokerSnapshot, hide: Callable[[str], bool]) -> str:
    parts = sorted(f"q{q.name}" for q in snapshot.queues if not hide(q.name))
    parts += sorted(f"b{b.exchange}|{b.routing_key}|{b.queue}" for b in snapshot.bindings)
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def hide_private(name: str) -> bool:
    """Reply and trace queues come and go per process; the graph leaves them out."""
    return name.startswith(("reply_", "labcloud.trace"))


class BrokerView(anywidget.AnyWidget):
    _esm = esm("broker")
    _css = css("broker")
    svg = traitlets.Unicode("").tag(sync=True)
    source = traitlets.Unicode("").tag(sync=True)
    depths = traitlets.Dict({}).tag(sync=True)  # node id -> messages ready
    consumers = traitlets.Dict({}).tag(sync=True)  # node id -> consumers
    rates = traitlets.Dict({}).tag(sync=True)  # node id -> deliveries per second
    pulses = traitlets.List[str]([]).tag(sync=True)  # edge ids that carried a message just now
    layouts = traitlets.Int(0).tag(sync=True)  # how many times the graph was laid out

    def __init__(
        self,
        snapshot: Callable[[], BrokerSnapshot],
        *,
        hide: Callable[[str], bool] = hide_private,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._snapshot = snapshot
        self._hide = hide
        self._topology = ""
        self._last_snapshot = 0.0
        self._deliveries: deque[tuple[float, str]] = deque(maxlen=50_000)

    def take(self, events: list[Any]) -> None:
        now = time.monotonic()
        pulses = []
        for e in events:
            if isinstance(e, MessageEvent) and e.event == "deliver" and e.queue:
                self._deliveries.append((now, node_id("q", e.queue)))
                if e.exchange:
                    pulses.append(edge_id(e.exchange, e.queue))
        self.pulses = sorted(set(pulses))
        while self._deliveries and self._deliveries[0][0] < now - RATE_WINDOW:
            self._deliveries.popleft()
        counts = Counter(q for _, q in self._deliveries)
        self.rates = {q: round(n / RATE_WINDOW, 1) for q, n in counts.items()}
        if now - self._last_snapshot >= SNAPSHOT_EVERY or not self.svg:
            self.refresh()

    def refresh(self) -> None:
        """Read the broker now: depths always, the layout only if the topology changed."""
        self._last_snapshot = time.monotonic()
        snap = self._snapshot()
        shape = _topology(snap, self._hide)
        if shape != self._topology:
            self._topology = shape
            self.svg = layout(snap, hide=self._hide)
            self.layouts += 1
        self.source = snap.source
        visible = [q for q in snap.queues if not self._hide(q.name)]
        self.depths = {node_id("q", q.name): q.messages for q in visible}
        self.consumers = {node_id("q", q.name): q.consumers for q in visible}
