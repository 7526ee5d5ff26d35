"""BrokerView: exchanges → bindings → queues → the services that consume them (and the
services' publishing edges back to their exchanges) as a graph, with the seed's roles;
depths and rates live; each message lights up the path it took, with its method's name.

The graph is laid out by graphviz (labcloud.notebook.brokergraph) once per topology change:
a queue, binding or service link appearing or going, or the fanout filter switched.
Everything else is a small update addressed by element id (``q:<queue>`` for a queue's
node, ``b:<exchange>|<queue>`` for a binding's edge, ``s:<service>`` for a service,
``p:<service>|<exchange>`` and ``c:<queue>|<service>`` for its publishing and consuming).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.exceptions import MessagingError
from labcloud.notebook.brokergraph import (
    Link,
    edge_id,
    hide_trace,
    is_fanout,
    layout,
    link_id,
    link_of,
    node_id,
    topology,
)
from labcloud.notebook.publisher import css, esm
from labcloud.trace.events import MessageEvent

__all__ = ["BrokerView", "edge_id", "node_id"]

LOG = logging.getLogger(__name__)
SNAPSHOT_EVERY = 0.5  # seconds at least between two broker snapshots (depths, new queues)
# When to read: after messages went by (the in-process broker's counts are exact then);
# on RabbitMQ, whose management API counts lag up to ~9 s, also for BUSY_FOR s after the
# last message; and every IDLE_SNAPSHOT_EVERY s whatever happens (a queue declared with no
# message yet, or depths moved by processes this one does not trace). An idle dashboard
# on an idle cloud so reads its broker a few times a minute, not twice a second.
BUSY_FOR = 15.0
IDLE_SNAPSHOT_EVERY = 5.0
RATE_WINDOW = 2.0  # seconds over which rates are averaged


def pulses_of(e: MessageEvent, link: Link | None) -> list[dict[str, str]]:
    """The edges one message event lit up, each with the method's name to show on it."""
    method = e.method or ("(reply)" if e.kind == "reply" else "")
    ids = [link_id(link)] if link else []
    if e.event == "deliver" and e.queue:
        ids.insert(0, edge_id(e.exchange, e.queue))
    return [{"id": i, "method": method} for i in ids]


class BrokerView(anywidget.AnyWidget):
    _esm = esm("broker")
    _css = css("broker")
    svg = traitlets.Unicode("").tag(sync=True)
    source = traitlets.Unicode("").tag(sync=True)
    depths = traitlets.Dict({}).tag(sync=True)  # node id -> messages ready
    consumers = traitlets.Dict({}).tag(sync=True)  # node id -> consumers
    rates = traitlets.Dict({}).tag(sync=True)  # node id -> deliveries per second
    # the edges messages took just now: [{id, method}]
    pulses = traitlets.List[dict[str, str]]([]).tag(sync=True)
    # the filter in the view's toolbar: per-server fanout queues (a third of a cloud's
    # queues) are hidden at first, so the services and their topic queues fit the view
    hide_fanout = traitlets.Bool(True).tag(sync=True)
    layouts = traitlets.Int(0).tag(sync=True)  # how many times the graph was laid out
    error = traitlets.Unicode("").tag(sync=True)  # why there is no graph; it stopped polling

    def __init__(
        self,
        snapshot: Callable[[], BrokerSnapshot],
        *,
        hide: Callable[[str], bool] = hide_trace,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._snapshot = snapshot
        self._hide = hide
        self._topology = ""
        self._last_snapshot = 0.0
        self._last_message = time.monotonic()  # busy at first: services are starting
        self._unread = False  # messages went by since the last snapshot
        self._deliveries: deque[tuple[float, str]] = deque(maxlen=50_000)
        self._links: set[Link] = set()
        # the filter changes the layout: the publisher thread reads the broker at its next turn
        self.observe(lambda _: setattr(self, "_last_snapshot", 0.0), names="hide_fanout")

    def _hidden(self, queue: str) -> bool:
        return self._hide(queue) or (self.hide_fanout and is_fanout(queue))

    def _snapshot_due(self, now: float) -> bool:
        if self.error:
            return False
        since = now - self._last_snapshot
        lagging = self.source != "memory" and now - self._last_message < BUSY_FOR
        if since >= SNAPSHOT_EVERY and (self._unread or lagging):
            return True
        return since >= IDLE_SNAPSHOT_EVERY or not self.svg

    def due(self) -> bool:
        """A turn without events: pulses to clear, a delivery leaving the rates' window, or
        a read of the broker."""
        now = time.monotonic()
        leaving = bool(self._deliveries) and self._deliveries[0][0] < now - RATE_WINDOW
        return bool(self.pulses) or leaving or self._snapshot_due(now)

    def due_in(self) -> float | None:
        """Seconds until due() holds with no new events (the publisher sleeps that long)."""
        now = time.monotonic()
        if self.pulses or (not self.svg and not self.error):
            return 0.0
        waits = []
        if self._deliveries:
            waits.append(self._deliveries[0][0] + RATE_WINDOW - now)
        if not self.error:
            since = now - self._last_snapshot
            lagging = self.source != "memory" and now - self._last_message < BUSY_FOR
            waits.append(IDLE_SNAPSHOT_EVERY - since)
            if self._unread or lagging:
                waits.append(SNAPSHOT_EVERY - since)
        return max(0.0, min(waits)) if waits else None

    def take(self, events: list[Any]) -> None:
        now = time.monotonic()
        pulses: dict[str, dict[str, str]] = {}
        for e in events:
            if not isinstance(e, MessageEvent):
                continue
            self._last_message, self._unread = now, True
            link = link_of(e)
            if link is not None:
                self._links.add(link)
            if e.event == "deliver" and e.queue:
                self._deliveries.append((now, node_id("q", e.queue)))
            for pulse in pulses_of(e, link):
                pulses[pulse["id"]] = pulse
        self.pulses = sorted(pulses.values(), key=lambda p: p["id"])
        while self._deliveries and self._deliveries[0][0] < now - RATE_WINDOW:
            self._deliveries.popleft()
        counts = Counter(q for _, q in self._deliveries)
        self.rates = {q: round(n / RATE_WINDOW, 1) for q, n in counts.items()}
        if self._snapshot_due(now):
            self.refresh()

    def refresh(self) -> None:
        """Read the broker now: depths always, the layout only if the topology changed.

        A broker that cannot be read (RabbitMQ without its management API) sets ``error``
        once and the view stops asking; :meth:`retry` asks again.
        """
        self._last_snapshot, self._unread = time.monotonic(), False
        try:
            snap = self._snapshot()
        except MessagingError as exc:
            self.error = f"The broker view has no data: {exc}"
            LOG.warning("%s", self.error)
            return
        shape = topology(snap, self._links, self._hidden)
        if shape != self._topology:
            self._topology = shape
            self.svg = layout(snap, self._links, hide=self._hidden)
            self.layouts += 1
        self.source = snap.source
        visible = [q for q in snap.queues if not self._hidden(q.name)]
        self.depths = {node_id("q", q.name): q.messages for q in visible}
        self.consumers = {node_id("q", q.name): q.consumers for q in visible}

    def final(self) -> None:
        """The last read before the cloud stops (the publisher's last flush)."""
        if not self.error:
            self.refresh()

    def retry(self) -> None:
        """Read the broker again after an error (say, once its management API is on)."""
        self.error = ""
        self.refresh()
