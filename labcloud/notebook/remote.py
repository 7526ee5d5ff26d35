"""Watch and step a cloud that runs in another process (``labcloud up`` over RabbitMQ)."""

from __future__ import annotations

from labcloud.messaging import get_transport
from labcloud.messaging.control import RemoteStepper
from labcloud.messaging.remote import TraceWatcher
from labcloud.notebook.dashboard import Dashboard
from labcloud.trace.bus import TraceBus


class RemoteCloud:
    """The trace, the broker and the stepper of services reached through ``transport_url``.

    In a notebook: ``remote = RemoteCloud("amqp://guest:guest@127.0.0.1:5672//")``, then
    ``remote.watch()`` in a cell of its own, and ``remote.stepper.break_on(step=9)``.
    """

    def __init__(self, transport_url: str) -> None:
        if not transport_url.startswith(("amqp", "rabbit", "pyamqp")):
            raise ValueError(
                f"{transport_url}: only a cloud on RabbitMQ can be watched from another process"
            )
        self.transport = get_transport(transport_url)
        self.bus = TraceBus()
        self.watcher = TraceWatcher(self.transport.driver, self.bus)
        self.stepper = RemoteStepper(self.transport.driver, self.bus)
        self._dashboards: list[Dashboard] = []

    def watch(self, *, rate: float = 20.0) -> Dashboard:
        dashboard = Dashboard(self.bus, self.transport.snapshot, self.stepper, rate=rate)
        self._dashboards.append(dashboard)
        return dashboard

    def close(self) -> None:
        for dashboard in self._dashboards:
            dashboard.close()
        self.stepper.close()
        self.watcher.stop()
        self.transport.cleanup()

    def __enter__(self) -> RemoteCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
