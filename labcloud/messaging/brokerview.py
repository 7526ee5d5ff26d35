"""A snapshot of a broker: exchanges, queues (with current depths) and bindings.

Both drivers answer :meth:`snapshot` with this one shape, so the broker widget and the labs
draw RabbitMQ and the in-process broker the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExchangeInfo:
    name: str
    type: str
    durable: bool = False
    auto_delete: bool = False
    internal: bool = False


@dataclass(frozen=True)
class QueueInfo:
    name: str
    messages: int = 0  # ready to deliver (RabbitMQ's "messages_ready")
    unacked: int = 0  # delivered to a consumer, not yet acknowledged
    consumers: int = 0
    durable: bool = False
    auto_delete: bool = False
    exclusive: bool = False
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BindingInfo:
    exchange: str  # "" is the default exchange
    routing_key: str
    queue: str


@dataclass(frozen=True)
class BrokerSnapshot:
    source: str  # "memory" or "rabbitmq"
    exchanges: tuple[ExchangeInfo, ...]
    queues: tuple[QueueInfo, ...]
    bindings: tuple[BindingInfo, ...]
    taken_at: float = field(default_factory=time.time)

    def exchange(self, name: str) -> ExchangeInfo | None:
        return next((e for e in self.exchanges if e.name == name), None)

    def queue(self, name: str) -> QueueInfo | None:
        return next((q for q in self.queues if q.name == name), None)

    def bindings_of(self, exchange: str) -> list[BindingInfo]:
        return [b for b in self.bindings if b.exchange == exchange]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
