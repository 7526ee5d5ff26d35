"""TopologyView: the cloud's datapath as the kernel has it now — hosts, bridges, taps,
veths, VXLAN and VLAN links, DHCP servers, routers and instances — drawn by graphviz.

It shows only what exists: each read (labcloud.netns.inventory) looks into the cloud's own
namespaces (about 8 ms a namespace: pyroute2 opens a socket in each). A read happens every
``READ_EVERY`` seconds, and soon after a port changes state (a port ACTIVE has its tap in a
bridge: the agent says so after plugging it), at most once per ``MIN_GAP``. The
graph is laid out again only when the topology changed (a namespace, link, bridge port,
address or program came or went); link states (up, down) and dnsmasq's lease counts are
small updates by element id. With the no-op datapath there is nothing to read, and the
view says so instead of drawing a network that does not exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anywidget
import traitlets

from labcloud.netns.inventory import Inventory, Reader
from labcloud.notebook.publisher import css, esm
from labcloud.notebook.topologygraph import dnsmasq_label, layout, link_id, program_id
from labcloud.trace.events import StateEvent

LOG = logging.getLogger(__name__)
READ_EVERY = 2.0  # seconds between reads of the kernel when no port changed
MIN_GAP = 0.5  # seconds at least between two reads (a burst of boots changes many ports)


class TopologyView(anywidget.AnyWidget):
    _esm = esm("topology")
    _css = css("topology")
    svg = traitlets.Unicode("").tag(sync=True)
    states = traitlets.Dict({}).tag(sync=True)  # link id -> UP, DOWN, UNKNOWN
    labels = traitlets.Dict({}).tag(sync=True)  # program id -> its last line (leases)
    summary = traitlets.Unicode("").tag(sync=True)  # one line: what is drawn
    layouts = traitlets.Int(0).tag(sync=True)  # how many times the graph was laid out
    # why nothing is drawn: the cloud has no datapath (the no-op one)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        prefix: str | None,
        *,
        reason: str = "",
        names: Callable[[], Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``prefix``: the cloud's namespaces (``lc-<tag>-``), None when it has no datapath
        (``reason`` says why); ``names``: server and network ids -> their names, for labels."""
        super().__init__(**kwargs)
        self._prefix = prefix
        self._names = names or dict
        self._reader = Reader(prefix or "")
        self._shape = ""
        self._last_read = 0.0
        self._ports_changed = False
        self.inventory = Inventory(prefix or "")
        if prefix is None:
            self.error = f"Nothing to draw: {reason or 'this cloud has no datapath'}."

    def due(self) -> bool:
        """A read of the kernel: every READ_EVERY s, or soon after a port changed."""
        if self._prefix is None:
            return False
        since = time.monotonic() - self._last_read
        return since >= READ_EVERY or (self._ports_changed and since >= MIN_GAP)

    def due_in(self) -> float | None:
        """Seconds until due() holds (None: never, with no datapath to read)."""
        if self._prefix is None:
            return None
        since = time.monotonic() - self._last_read
        wait = READ_EVERY - since
        if self._ports_changed:
            wait = min(wait, MIN_GAP - since)
        return max(0.0, wait)

    def take(self, events: list[Any]) -> None:
        if any(isinstance(e, StateEvent) and e.resource == "port" for e in events):
            self._ports_changed = True
        if self.due():
            self.refresh()

    def refresh(self) -> None:
        """Read the kernel now: states and leases always, the layout if the shape changed."""
        if self._prefix is None:
            return
        self._last_read = time.monotonic()
        self._ports_changed = False
        inventory = self._reader.read()
        self.inventory = inventory
        shape = inventory.shape()
        if shape != self._shape:
            names = dict(self._names())
            self.svg = layout(inventory, names)
            self._shape = shape
            self.layouts += 1
        self.states = {
            link_id(ns.name, link.name): link.state
            for ns in inventory.namespaces
            for link in ns.links
        }
        self.labels = {
            program_id(ns.name, p.name): dnsmasq_label(len(p.leases)).splitlines()[-1]
            for ns in inventory.namespaces
            for p in ns.processes
            if p.name == "dnsmasq"
        }
        kinds = [ns.kind for ns in inventory.namespaces]
        counts = ", ".join(
            _count(kinds.count(kind), word)
            for kind, word in (
                ("host", "host"),
                ("instance", "instance"),
                ("dhcp", "DHCP server"),
                ("router", "router"),
            )
        )
        self.summary = f"{_count(len(kinds), 'namespace')} ({counts}) · {len(self.states)} links"

    def final(self) -> None:
        """The publisher's last flush, before the cloud stops: read once more."""
        self.refresh()


def _count(n: int, word: str) -> str:
    """``n`` and the word, plural unless one.

    >>> _count(1, "host"), _count(2, "host")
    ('1 host', '2 hosts')
    """
    return f"{n} {word}{'s' * (n != 1)}"
