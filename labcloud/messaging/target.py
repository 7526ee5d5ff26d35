"""Target: where a message goes, exactly as oslo.messaging names it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Target:
    """An address on the bus.

    ``exchange`` is the project's topic exchange (``nova``); ``topic`` is the service
    (``compute``); ``server`` picks one host (``compute.<server>``); ``fanout`` sends to every
    server of the topic.
    """

    exchange: str = "openstack"
    topic: str = ""
    server: str | None = None
    fanout: bool = False
    version: str | None = None
    namespace: str | None = None

    def __call__(self, **changes: Any) -> Target:
        return replace(self, **changes)

    @property
    def routing_key(self) -> str:
        return f"{self.topic}.{self.server}" if self.server else self.topic
