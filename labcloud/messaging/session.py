"""The trace and the stepper of services running in other processes, without widgets: what
``labcloud debug`` and a notebook's ``RemoteCloud`` (labcloud.notebook.remote) share.

    with RemoteSession("amqp://guest:guest@127.0.0.1:5672/labcloud-x") as remote:
        remote.stepper.break_on(step=9)     # every process gets it (a fanout)
        remote.stepper.wait_paused()         # the one whose thread reached it answers

Every process of the cloud forwards its trace to ``labcloud.trace`` (TraceForwarder) and
obeys ``labcloud.control`` (StepperService); the session re-emits that trace on its own
``bus``, so a FlowRecorder or a Dashboard on it sees the whole cloud.
"""

from __future__ import annotations

from labcloud.messaging.control import RemoteStepper
from labcloud.messaging.remote import TraceWatcher
from labcloud.messaging.transport import Transport, get_transport
from labcloud.trace.bus import TraceBus

REMOTE_SCHEMES = ("amqp", "rabbit", "pyamqp")


class RemoteSession:
    def __init__(self, transport_url: str) -> None:
        if not transport_url.startswith(REMOTE_SCHEMES):
            raise ValueError(
                f"{transport_url}: only a cloud on RabbitMQ can be watched from another process"
            )
        self.transport_url = transport_url
        self.transport: Transport = get_transport(transport_url)
        self.bus = TraceBus()
        self.watcher = TraceWatcher(self.transport.driver, self.bus)
        self.stepper = RemoteStepper(self.transport.driver, self.bus)

    def close(self) -> None:
        self.stepper.close()
        self.watcher.stop()
        self.transport.cleanup()

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
