"""The narrow interface both transports implement: declare, publish, consume, snapshot.

``amqp.AmqpDriver`` speaks to RabbitMQ through kombu; ``memory.MemoryDriver`` is an
in-process broker with RabbitMQ's routing rules. The RPC client and server above them do not
know which one they use. (oslo.messaging is layered the same way: a rabbit driver and a fake
driver under one RPC API.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.topology import ExchangeSpec, Subscription
from labcloud.messaging.workers import WorkerPool

# Message properties both drivers understand (AMQP basic properties, by kombu's names).
# ``expiration`` is in seconds (float); drivers convert it to the broker's unit.
PropertyMap = Mapping[str, Any]


@dataclass(slots=True)  # one per message delivered
class Delivery:
    """One message handed to a consumer callback; ack or reject it in the callback's thread.

    ``settled`` says whether it was acked or rejected (even if that failed): a consumer
    rejects, without requeue, a message its callback left unsettled by raising.
    """

    body: bytes
    exchange: str
    routing_key: str
    queue: str
    properties: PropertyMap = field(default_factory=dict)
    redelivered: bool = False
    ack_fn: Callable[[], None] = lambda: None
    reject_fn: Callable[[bool], None] = lambda requeue: None
    settled: bool = False

    def ack(self) -> None:
        """Acknowledge; raises the driver's connection error when the connection is gone."""
        self.settled = True
        self.ack_fn()

    def reject(self, requeue: bool = False) -> None:
        self.settled = True
        self.reject_fn(requeue)


DeliverCallback = Callable[[Delivery], None]


class Consumer(Protocol):
    """A running consumer: its own thread calls the callback for each delivery."""

    def stop(self) -> None:
        """Cancel consumption and join the consumer thread; safe to call twice."""


class Parked(Protocol):
    """A caller waiting for a delivery: ``done`` once it came, parked until woken."""

    @property
    def done(self) -> bool: ...

    def park(self, timeout: float) -> None:
        """Block until woken (or ``timeout``); a wake-up that came first ends it at once."""

    def wake(self) -> None: ...


@runtime_checkable
class ReadByCallers(Protocol):
    """A consumer whose deliveries the waiting callers may read in their own threads."""

    def wait(self, waiter: Parked, timeout: float) -> None:
        """Return once ``waiter`` is done, or after ``timeout``."""


class Driver(Protocol):
    url: str

    def declare(self, subscriptions: Sequence[Subscription]) -> None:
        """Declare queues, their exchanges and bindings without consuming."""

    def publish(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        *,
        properties: PropertyMap | None = None,
        mandatory: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Publish one message; ``exchange.name == ""`` is the default exchange.

        Declares ``exchange`` first (once) unless it is the default exchange. Returns once
        the broker has taken the message (RabbitMQ: confirmed it). With ``mandatory``,
        raises MessageUndeliverable when no queue takes the message. Retries lost
        connections, and waits for the broker, for up to ``timeout`` seconds in all, then
        raises MessageDeliveryFailure. Never resends a message the broker confirmed: what
        a broker loses with its non-durable queues is lost, as with oslo.messaging.
        """

    def consume(
        self,
        subscriptions: Sequence[Subscription],
        callback: DeliverCallback,
        *,
        prefetch: int = 64,
        name: str = "",
        read_by_callers: bool = False,
        workers: WorkerPool | None = None,
    ) -> Consumer:
        """Declare and consume the queues; the consumer survives broker restarts.

        With ``read_by_callers`` the driver may return a ReadByCallers consumer. With
        ``workers`` (the pool the callback submits to) the driver may run the callback in
        those workers (``WorkerPool.take``) instead of a consumer thread of its own.
        """

    def snapshot(self) -> BrokerSnapshot:
        """Exchanges, queues with current depths and consumers, and bindings."""

    def close(self) -> None:
        """Stop every consumer and close connections; safe to call twice."""
