"""Watch and step a cloud that runs in other processes (``labcloud up``, or ``labcloud up
--processes``: one process per OpenStack binary) over RabbitMQ."""

from __future__ import annotations

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.rabbitview import rabbitmq_snapshot
from labcloud.messaging.session import RemoteSession
from labcloud.notebook.dashboard import Dashboard


class RemoteCloud(RemoteSession):
    """The trace, the broker and the stepper of services reached through ``transport_url``.

    In a notebook: ``remote = RemoteCloud("amqp://guest:guest@127.0.0.1:5672/labcloud-x")``
    (the URL ``labcloud up`` printed, or ``transport_url`` in ``labcloud.conf``), then
    ``remote.watch()`` in a cell of its own, and ``remote.stepper.break_on(step=9)``; a
    ``FlowRecorder(remote.bus)`` records the boots of every process. The broker tab reads
    RabbitMQ's management API at the AMQP port + 10000, or at ``management_url``.
    """

    def __init__(self, transport_url: str, *, management_url: str | None = None) -> None:
        super().__init__(transport_url)
        self.management_url = management_url
        self._dashboards: list[Dashboard] = []

    def watch(self, *, rate: float = 20.0) -> Dashboard:
        dashboard = Dashboard(self.bus, self.snapshot, self.stepper, rate=rate)
        self._dashboards.append(dashboard)
        return dashboard

    def snapshot(self) -> BrokerSnapshot:
        return rabbitmq_snapshot(self.transport_url, management_url=self.management_url)

    def close(self) -> None:
        for dashboard in self._dashboards:
            dashboard.close()
        super().close()

    def __enter__(self) -> RemoteCloud:
        return self
