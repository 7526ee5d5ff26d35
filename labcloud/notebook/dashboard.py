"""All the views of one cloud, fed by one publisher: ``watch(cloud)`` in a notebook (the
network topology too, for a cloud that has one to read)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets
import traitlets

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.notebook.broker import BrokerView
from labcloud.notebook.flow import FlowView
from labcloud.notebook.inspector import MessageInspector
from labcloud.notebook.publisher import Publisher
from labcloud.notebook.stepper import StepperControls
from labcloud.notebook.topology import TopologyView
from labcloud.trace.bus import TraceBus


class Dashboard:
    def __init__(
        self,
        bus: TraceBus,
        snapshot: Callable[[], BrokerSnapshot],
        stepper: Any,  # a Stepper, or a RemoteStepper
        *,
        rate: float = 20.0,
        topology: TopologyView | None = None,
    ) -> None:
        self.flow = FlowView()
        self.broker = BrokerView(snapshot)
        self.messages = MessageInspector()
        self.stepper = StepperControls(stepper)
        self.topology = topology
        self.broker.refresh()  # a broker it cannot read shows why in its tab, once
        if topology is not None:
            topology.refresh()
        self.publisher = Publisher(bus, rate=rate)  # last: nothing can fail after it starts
        views: list[Any] = [self.flow, self.broker, self.messages, self.stepper]
        for view in [*views, *([topology] if topology is not None else [])]:
            self.publisher.add(view)

    def widget(self) -> ipywidgets.Widget:
        problem = ipywidgets.HTML()
        traitlets.dlink((self.broker, "error"), (problem, "value"), _warning)
        broker = ipywidgets.VBox([problem, self.broker])
        children: list[ipywidgets.Widget] = [self.flow, broker, self.messages]
        titles = ["Boot flow", "Broker", "Messages"]
        if self.topology is not None:
            children.append(self.topology)
            titles.append("Network")
        tabs = ipywidgets.Tab(children=children)
        for i, title in enumerate(titles):
            tabs.set_title(i, title)
        return ipywidgets.VBox([self.stepper, tabs])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    def flush(self) -> None:
        """Bring every view up to date now (the publisher does it 20 times a second)."""
        self.publisher.flush()

    def close(self) -> None:
        self.publisher.close()


def _warning(text: str) -> str:
    return f"<b>⚠</b> {html.escape(text)}" if text else ""
