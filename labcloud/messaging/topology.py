"""Exchange and queue names and flags, exactly as oslo.messaging's rabbit driver declares them.

A nova-compute on host ``node1`` declares:

- topic exchange ``nova`` (non-durable, not auto-delete);
- queue ``compute`` bound with key ``compute`` and queue ``compute.node1`` bound with key
  ``compute.node1`` (non-durable, not auto-delete);
- fanout exchange ``compute_fanout`` (auto-delete) with a queue ``compute_fanout_<uuid hex>``
  (non-durable, x-expires 30 min);
- and every process that calls has one ``reply_<uuid hex>`` queue on the default exchange.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from labcloud.messaging.target import Target

TRANSIENT_QUEUE_TTL_MS = 1_800_000  # oslo's rabbit_transient_queues_ttl (1800 s) as x-expires
TRACE_EXCHANGE = "labcloud.trace"


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    type: str = "topic"  # direct | topic | fanout
    durable: bool = False
    auto_delete: bool = False


@dataclass(frozen=True)
class QueueSpec:
    name: str
    durable: bool = False
    auto_delete: bool = False
    exclusive: bool = False
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    """A queue to consume from, with the bindings that feed it."""

    queue: QueueSpec
    bindings: Sequence[tuple[ExchangeSpec, str]] = ()


DEFAULT_EXCHANGE = ExchangeSpec("", "direct", durable=True)


# One spec object per name (they are immutable): a broker that sees the exchange it
# declared already, by identity, need not compare the two field by field at each publish.
@cache
def topic_exchange(name: str) -> ExchangeSpec:
    return ExchangeSpec(name, "topic")


@cache
def fanout_exchange(topic: str) -> ExchangeSpec:
    return ExchangeSpec(f"{topic}_fanout", "fanout", auto_delete=True)


def transient_queue(name: str) -> QueueSpec:
    return QueueSpec(name, arguments={"x-expires": TRANSIENT_QUEUE_TTL_MS})


def reply_queue_name() -> str:
    return f"reply_{uuid.uuid4().hex}"


def server_subscriptions(target: Target) -> list[Subscription]:
    """The three queues an RPC server on ``target`` (topic + server) consumes from."""
    if not target.server:
        raise ValueError("an RPC server's target needs a topic and a server")
    exchange = topic_exchange(target.exchange)
    fanout = fanout_exchange(target.topic)
    return [
        Subscription(QueueSpec(target.topic), [(exchange, target.topic)]),
        Subscription(QueueSpec(target.routing_key), [(exchange, target.routing_key)]),
        Subscription(
            transient_queue(f"{target.topic}_fanout_{uuid.uuid4().hex}"), [(fanout, target.topic)]
        ),
    ]


def publish_exchange(target: Target) -> tuple[ExchangeSpec, str]:
    """The exchange and routing key a cast or call to ``target`` is published with.

    A fanout goes to ``<topic>_fanout`` with an empty key, as oslo's ``fanout_send``
    publishes it (kombu's Producer default); a fanout exchange ignores the key anyway.
    """
    if target.fanout:
        return fanout_exchange(target.topic), ""
    return topic_exchange(target.exchange), target.routing_key
