"""The trace bus: one stream of events that logs, widgets, the flow recorder and tests all read."""

from labcloud.trace.bus import Subscription, TraceBus
from labcloud.trace.events import HttpEvent, MessageEvent, Origin, StateEvent, StepEvent

__all__ = [
    "HttpEvent",
    "MessageEvent",
    "Origin",
    "StateEvent",
    "StepEvent",
    "Subscription",
    "TraceBus",
]
