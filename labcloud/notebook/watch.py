"""``watch(cloud)``: the live widgets of a cloud, for a notebook cell.

The widgets depend on the cloud, never the reverse: labcloud.cloud and the CLI import
nothing of labcloud.notebook (import-linter checks it), so ``labcloud up`` and the binaries
never load ipywidgets. A LabCloud closes the dashboards it was given when it stops.

    from labcloud.notebook import watch
    board = watch(cloud)        # then `board` alone in a cell shows it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.notebook.dashboard import Dashboard
from labcloud.notebook.remote import RemoteCloud
from labcloud.notebook.topology import TopologyView
from labcloud.trace.bus import TraceBus
from labcloud.trace.stepper import Stepper


class Broker(Protocol):
    def snapshot(self) -> BrokerSnapshot: ...


class Watchable(Protocol):
    """What the widgets need of an in-process cloud (a LabCloud)."""

    @property
    def bus(self) -> TraceBus: ...

    @property
    def stepper(self) -> Stepper: ...

    @property
    def transport(self) -> Broker: ...

    def on_stop(self, close: Callable[[], object]) -> None: ...


def watch(cloud: Watchable | RemoteCloud, *, rate: float = 20.0) -> Dashboard:
    """The live views of ``cloud`` (in this process, or a RemoteCloud's), updated at
    most ``rate`` times a second; closed when the cloud stops."""
    if isinstance(cloud, RemoteCloud):
        return cloud.watch(rate=rate)
    dashboard = Dashboard(
        cloud.bus, cloud.transport.snapshot, cloud.stepper, rate=rate, topology=_topology(cloud)
    )
    cloud.on_stop(dashboard.close)
    return dashboard


def _topology(cloud: Any) -> TopologyView | None:
    """The network view of a LabCloud (its datapath's namespaces, or why it has none)."""
    network = getattr(cloud, "network", None)
    if network is None:
        return None
    fabric = network.fabric
    return TopologyView(
        fabric.ns("") if fabric is not None else None,
        reason=cloud.datapath_reason,
        names=cloud.names,
    )
