"""Notebook widgets that watch a cloud live: the broker, the boot flow, messages, the stepper,
the network topology.

Python classes here hold state only (traitlets, synchronised by anywidget); the views are ES
modules in the repository's ``widgets/`` folder. One :class:`Publisher` thread per cloud
reads the trace bus and writes every widget's state at most 20 times a second, inside
``hold_sync()``: broker and service threads never touch a widget. ``watch(cloud)`` shows
them all for a cloud.
"""

from labcloud.notebook.broker import BrokerView
from labcloud.notebook.dashboard import Dashboard
from labcloud.notebook.flow import FlowView
from labcloud.notebook.inspector import MessageInspector
from labcloud.notebook.publisher import Publisher
from labcloud.notebook.stepper import StepperControls
from labcloud.notebook.topology import TopologyView
from labcloud.notebook.watch import watch

__all__ = [
    "BrokerView",
    "Dashboard",
    "FlowView",
    "MessageInspector",
    "Publisher",
    "StepperControls",
    "TopologyView",
    "watch",
]
