"""Watch and step a cloud that runs in other processes (``labcloud up``, or ``labcloud up
--processes``: one process per OpenStack binary) over RabbitMQ."""

from __future__ import annotations

from pathlib import Path

from labcloud.conf import load
from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.rabbitview import rabbitmq_snapshot
from labcloud.messaging.session import RemoteSession
from labcloud.netns.fabric import Fabric
from labcloud.notebook.dashboard import Dashboard
from labcloud.notebook.topology import TopologyView


class RemoteCloud(RemoteSession):
    """The trace, the broker and the stepper of services reached through ``transport_url``.

    In a notebook: ``remote = RemoteCloud("amqp://guest:guest@127.0.0.1:5672/labcloud-x")``
    (the URL ``labcloud up`` printed, or ``transport_url`` in ``labcloud.conf``), then
    ``remote.watch()`` in a cell of its own, and ``remote.stepper.break_on(step=9)``; a
    ``FlowRecorder(remote.bus)`` records the boots of every process. The broker tab reads
    RabbitMQ's management API at the AMQP port + 10000, or at ``management_url``.

    The network topology needs to know where the agents build: ``RemoteCloud.from_config(
    "<state>/labcloud.conf")`` reads it from the file they read (``[linux_bridge]``), which
    is on this machine whenever the namespaces to draw are.
    """

    def __init__(
        self,
        transport_url: str,
        *,
        management_url: str | None = None,
        datapath: tuple[str, str] | None = None,
    ) -> None:
        """``datapath``: (``noop`` or ``linuxbridge``, the fabric's tag), as the agents'
        ``[linux_bridge]`` says; None: not known, and ``watch()`` draws no topology."""
        super().__init__(transport_url)
        self.management_url = management_url
        self.datapath = datapath
        self._dashboards: list[Dashboard] = []

    @classmethod
    def from_config(cls, config: str | Path, *, management_url: str | None = None) -> RemoteCloud:
        """The cloud whose services read ``config``: its transport, and its agents' datapath."""
        neutron = load(config, "neutron")
        options = neutron.linux_bridge
        return cls(
            neutron.DEFAULT.transport_url,
            management_url=management_url,
            datapath=(options.datapath, options.fabric_tag),
        )

    def watch(self, *, rate: float = 20.0) -> Dashboard:
        topology = self.topology() if self.datapath is not None else None
        dashboard = Dashboard(self.bus, self.snapshot, self.stepper, rate=rate, topology=topology)
        self._dashboards.append(dashboard)
        return dashboard

    def topology(self) -> TopologyView:
        """The network view of the cloud's namespaces on this machine (reading them needs
        root), read once now; in ``watch()`` it follows the cloud's ports as they change.
        Or why there is nothing to draw."""
        if self.datapath is None:
            return TopologyView(
                None,
                reason="this RemoteCloud does not know its datapath (RemoteCloud.from_config("
                "'<state>/labcloud.conf') reads it)",
            )
        name, tag = self.datapath
        if name != "linuxbridge" or not tag:
            return TopologyView(
                None, reason="the cloud's agents use the no-op datapath ([linux_bridge] datapath)"
            )
        view = TopologyView(Fabric(tag).ns(""))
        view.refresh()
        return view

    def snapshot(self) -> BrokerSnapshot:
        return rabbitmq_snapshot(self.transport_url, management_url=self.management_url)

    def close(self) -> None:
        for dashboard in self._dashboards:
            dashboard.close()
        super().close()

    def __enter__(self) -> RemoteCloud:
        return self
