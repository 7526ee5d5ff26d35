"""All four views of one cloud, fed by one publisher: ``cloud.watch()`` in a notebook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.notebook.broker import BrokerView
from labcloud.notebook.flow import FlowView
from labcloud.notebook.inspector import MessageInspector
from labcloud.notebook.publisher import Publisher
from labcloud.notebook.stepper import StepperControls
from labcloud.trace.bus import TraceBus


class Dashboard:
    def __init__(
        self,
        bus: TraceBus,
        snapshot: Callable[[], BrokerSnapshot],
        stepper: Any,  # a Stepper, or a RemoteStepper
        *,
        rate: float = 20.0,
    ) -> None:
        self.publisher = Publisher(bus, rate=rate)
        self.flow = FlowView()
        self.broker = BrokerView(snapshot)
        self.messages = MessageInspector()
        self.stepper = StepperControls(stepper)
        for view in (self.flow, self.broker, self.messages, self.stepper):
            self.publisher.add(view)
        self.broker.refresh()

    def widget(self) -> ipywidgets.Widget:
        tabs = ipywidgets.Tab(children=[self.flow, self.broker, self.messages])
        for i, title in enumerate(("Boot flow", "Broker", "Messages")):
            tabs.set_title(i, title)
        return ipywidgets.VBox([self.stepper, tabs])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    def flush(self) -> None:
        """Bring every view up to date now (the publisher does it 20 times a second)."""
        self.publisher.flush()

    def close(self) -> None:
        self.publisher.close()
