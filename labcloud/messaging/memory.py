"""The in-process broker behind ``memory://``: RabbitMQ's model, in one Python process.

Exchanges (direct, fanout, topic, and the default exchange that routes to the queue named
by the key), queues, bindings, consumers with prefetch credit, acks, rejects and requeues,
``mandatory`` returns, ``auto_delete``, ``x-expires`` and per-message ``expiration`` behave
as on RabbitMQ, so what a student sees in-kernel is what RabbitMQ would do. Left out:
persistence, the headers exchange, transactions, priorities.

Each MemoryBroker is separate: two clouds in one process never see each other's queues.
Delivery is pushed: a consumer's thread sleeps on its inbox until a message arrives, so
an idle cloud uses no CPU and a message is delivered in microseconds; a reply queue is
read by the callers waiting on it instead (memreplies.py), as on RabbitMQ.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from queue import SimpleQueue

from labcloud.messaging.brokerview import BindingInfo, BrokerSnapshot, ExchangeInfo, QueueInfo
from labcloud.messaging.driver import DeliverCallback, Delivery, PropertyMap
from labcloud.messaging.exceptions import (
    ConnectionLost,
    ExchangeNotFound,
    MessageUndeliverable,
    PreconditionFailed,
)
from labcloud.messaging.routing import topic_matches
from labcloud.messaging.topology import ExchangeSpec, QueueSpec, Subscription
from labcloud.messaging.workers import WorkerPool

LOG = logging.getLogger(__name__)
PREDECLARED = (
    ExchangeSpec("", "direct", durable=True),
    ExchangeSpec("amq.direct", "direct", True),
    ExchangeSpec("amq.fanout", "fanout", True),
    ExchangeSpec("amq.topic", "topic", True),
)
PREDECLARED_NAMES = {e.name for e in PREDECLARED}
Reconnect = Callable[[], None]  # a driver's reconnect, run after a restart


@dataclass(frozen=True)
class BrokerRestart:
    """What a restart did: queues gone, messages lost with them, consumers back."""

    queues_dropped: tuple[str, ...]
    messages_lost: int
    consumers_reconnected: int


@dataclass(slots=True)
class _Message:
    body: bytes
    exchange: str
    routing_key: str
    properties: PropertyMap
    expires_at: float | None
    redelivered: bool = False


@dataclass
class _Queue:
    spec: QueueSpec
    ready: deque[_Message] = field(default_factory=deque)
    consumers: list[_Consumer] = field(default_factory=list)
    turn: int = 0
    had_consumer: bool = False
    last_used: float = field(default_factory=time.monotonic)


def _ttl(queue: _Queue) -> float:
    """The queue's ``x-expires`` in seconds; 0 if it has none."""
    ttl = queue.spec.arguments.get("x-expires")
    return float(ttl) / 1000 if ttl else 0.0


@dataclass
class _Exchange:
    spec: ExchangeSpec
    bindings: list[tuple[str, str]] = field(default_factory=list)  # (routing key, queue)


class _Consumer:
    """One consumer: its own thread, an inbox the broker pushes to, and prefetch credit."""

    def __init__(
        self,
        broker: MemoryBroker,
        queues: list[str],
        callback: DeliverCallback,
        prefetch: int,
        name: str,
    ) -> None:
        self.broker = broker
        self.queues = queues
        self.callback = callback
        self.prefetch = prefetch
        self.unacked: dict[int, tuple[str, _Message]] = {}
        self.dropped: set[int] = set()  # tags delivered on a connection the broker dropped
        # a SimpleQueue: one C call to hand a message over and one to wait for it, where a
        # Condition takes a dozen Python calls on each side
        self.inbox: SimpleQueue[tuple[int, str, _Message] | None] = SimpleQueue()
        self.stopped = False
        self.thread = threading.Thread(
            target=self._run, name=f"memory-consumer-{name}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def has_credit(self) -> bool:
        return not self.stopped and len(self.unacked) < self.prefetch

    def push(self, tag: int, queue: str, msg: _Message) -> None:  # called under broker lock
        self.unacked[tag] = (queue, msg)
        self.inbox.put((tag, queue, msg))

    def _run(self) -> None:
        get, unacked = self.inbox.get, self.unacked
        while (item := get()) is not None and not self.stopped:
            # a tag no longer unacked went back to its queue (cancel) or was lost with
            # the connection (restart) before this thread took it: it is not delivered
            if item[0] in unacked:
                self._deliver(*item)

    def _deliver(self, tag: int, queue: str, msg: _Message) -> None:
        settle = self.broker.settle
        delivery = Delivery(  # by position (its fields' order): half the cost of keywords
            msg.body,
            msg.exchange,
            msg.routing_key,
            queue,
            msg.properties,
            msg.redelivered,
            lambda: settle(self, tag, None),
            lambda requeue: settle(self, tag, requeue),
        )
        try:
            self.callback(delivery)
        except Exception:  # as oslo's consumer: log, reject, go on with the next message
            LOG.exception("Failed to process message from %s ... skipping it.", queue)
            if not delivery.settled:
                with contextlib.suppress(ConnectionLost):  # already back in its queue
                    delivery.reject(requeue=False)

    def drop_connection(self) -> int:  # called under broker lock
        """The broker went away: what was pushed but not acked is gone with the connection
        (a late ack then raises ConnectionLost, as on a closed RabbitMQ channel; what is
        still in the inbox is not delivered). Returns how many."""
        lost = len(self.unacked)
        self.dropped.update(self.unacked)
        self.unacked.clear()
        return lost

    def stop(self) -> None:
        self.broker.cancel(self)
        self.stopped = True
        self.inbox.put(None)
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=10)


class MemoryBroker:
    """All the state of one in-process broker (share it to share queues)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._exchanges: dict[str, _Exchange] = {e.name: _Exchange(e) for e in PREDECLARED}
        self._queues: dict[str, _Queue] = {}
        # no queue can expire before this (monotonic) time: the queues are looked through
        # only once it passed, not at every declaration (100 hosts declare ~1,500 queues)
        self._next_expiry = math.inf
        # (exchange, routing key) -> the queues its bindings name: matching a key against
        # every binding was done again for each message; emptied when a binding changes
        self._routes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._tags = itertools.count(1)
        self._reconnects: list[Reconnect] = []  # each driver's, run after a restart
        self.restarts = 0

    # -- a restart ------------------------------------------------------------------------
    def on_restart(self, reconnect: Reconnect) -> None:
        """Call ``reconnect`` (a driver redeclaring its queues) after each restart."""
        with self._lock:
            self._reconnects.append(reconnect)

    def restart(self) -> BrokerRestart:
        """Stop and start the broker, as ``rabbitmqctl stop_app; start_app`` does.

        Non-durable exchanges and queues (all of oslo.messaging's) vanish with the messages
        they hold, and so do messages delivered but not yet acknowledged. Every connection
        drops; each driver then redeclares its consumers' queues and bindings (kombu does
        this on reconnect). Nothing is resent: a cast the broker had confirmed and lost is
        lost, as with oslo.messaging, and the cloud's periodic tasks notice.
        """
        with self._lock:
            dropped = sorted(n for n, q in self._queues.items() if not q.spec.durable)
            lost = sum(len(self._queues[n].ready) for n in dropped)
            consumers = {id(c): c for q in self._queues.values() for c in q.consumers}
            for consumer in consumers.values():
                lost += consumer.drop_connection()
            self._queues = {n: q for n, q in self._queues.items() if q.spec.durable}
            for queue in self._queues.values():
                queue.consumers = []
            self._exchanges = {
                n: e for n, e in self._exchanges.items() if e.spec.durable or n in PREDECLARED_NAMES
            }
            for ex in self._exchanges.values():
                ex.bindings = [b for b in ex.bindings if b[1] in self._queues]
            self._routes = {}
            self.restarts += 1
            # redeclared under the lock: nobody publishes into the gap between the two
            for reconnect in self._reconnects:
                reconnect()
        return BrokerRestart(tuple(dropped), lost, len(consumers))

    # -- declarations -------------------------------------------------------------------
    def declare_exchange(self, spec: ExchangeSpec) -> None:
        with self._lock:
            self._declare_exchange(spec)

    def _declare_exchange(self, spec: ExchangeSpec) -> None:  # under the lock
        existing = self._exchanges.get(spec.name)
        if existing is None:
            self._exchanges[spec.name] = _Exchange(spec)
            self._routes = {}
        elif existing.spec is not spec and existing.spec != spec:
            raise PreconditionFailed(
                what="exchange",
                name=spec.name,
                detail=f"declared as {existing.spec}, asked {spec}",
            )

    def declare_queue(self, spec: QueueSpec) -> None:
        with self._lock:
            self._expire()
            existing = self._queues.get(spec.name)
            if existing is None:
                queue = self._queues[spec.name] = _Queue(spec)
                if ttl := _ttl(queue):
                    self._next_expiry = min(self._next_expiry, queue.last_used + ttl)
            elif (
                existing.spec.durable,
                existing.spec.auto_delete,
                existing.spec.exclusive,
                dict(existing.spec.arguments),
            ) != (spec.durable, spec.auto_delete, spec.exclusive, dict(spec.arguments)):
                raise PreconditionFailed(
                    what="queue",
                    name=spec.name,
                    detail=f"declared as {existing.spec}, asked {spec}",
                )
            else:
                existing.last_used = time.monotonic()

    def bind(self, queue: str, exchange: str, routing_key: str) -> None:
        with self._lock:
            ex = self._exchanges.get(exchange)
            if ex is None:
                raise ExchangeNotFound(exchange=exchange)
            if (routing_key, queue) not in ex.bindings:
                ex.bindings.append((routing_key, queue))
                self._routes = {}

    def delete_queue(self, name: str) -> None:
        with self._lock:
            if self._queues.pop(name, None) is None:
                return
            self._routes = {}
            for ex in list(self._exchanges.values()):
                before = len(ex.bindings)
                ex.bindings = [b for b in ex.bindings if b[1] != name]
                if ex.spec.auto_delete and before and not ex.bindings:
                    del self._exchanges[ex.spec.name]

    def _expire(self) -> None:
        """Delete the queues unused (no consumer, no declaration, no message) for their
        ``x-expires``. A queue's use only moves its expiry later, so the earliest expiry
        seen at the last look bounds every expiry until the next."""
        now = time.monotonic()
        if now < self._next_expiry:
            return
        soonest = math.inf
        for q in list(self._queues.values()):
            ttl = _ttl(q)
            if not ttl:
                continue
            if not q.consumers and now - q.last_used > ttl:
                self.delete_queue(q.spec.name)
            else:
                soonest = min(soonest, q.last_used + ttl)
        self._next_expiry = soonest

    # -- messages -----------------------------------------------------------------------
    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: PropertyMap | None = None,
        mandatory: bool = False,
        declare: ExchangeSpec | None = None,
    ) -> int:
        """Route one message; return how many queues took it. ``declare``: the exchange is
        declared first, under the same hold of the lock (as kombu's publish with
        ``declare=[exchange]``)."""
        props = properties or {}
        ttl = props.get("expiration")
        now = time.monotonic()
        expires = now + float(ttl) if ttl else None
        with self._lock:
            if declare is not None:
                self._declare_exchange(declare)
            targets = self._route(exchange, routing_key)
            if not targets and mandatory:
                raise MessageUndeliverable(exchange=exchange, routing_key=routing_key)
            for queue in targets:
                queue.last_used = now
                self._enqueue(queue, _Message(body, exchange, routing_key, props, expires))
            return len(targets)

    def _route(self, exchange: str, key: str) -> list[_Queue]:
        if exchange == "":
            q = self._queues.get(key)
            return [q] if q is not None else []
        ex = self._exchanges.get(exchange)
        if ex is None:
            raise ExchangeNotFound(exchange=exchange)
        names = self._routes.get((exchange, key))
        if names is None:
            kind = ex.spec.type
            names = tuple(
                dict.fromkeys(  # each queue once, in the order it was bound
                    queue
                    for pattern, queue in ex.bindings
                    if kind == "fanout"
                    or (kind == "direct" and pattern == key)
                    or (kind == "topic" and topic_matches(pattern, key))
                )
            )
            self._routes[(exchange, key)] = names
        return [self._queues[n] for n in names if n in self._queues]

    def _enqueue(self, queue: _Queue, msg: _Message) -> None:
        consumer = self._next_consumer(queue)
        if consumer is None:
            queue.ready.append(msg)
        else:
            consumer.push(next(self._tags), queue.spec.name, msg)

    def _next_consumer(self, queue: _Queue) -> _Consumer | None:
        consumers = queue.consumers
        count = len(consumers)
        if count == 1:  # most queues (a server's, a reply queue): no turn to take
            consumer = consumers[0]
            return consumer if consumer.has_credit() else None
        for i in range(count):  # round robin among consumers with credit
            consumer = consumers[(queue.turn + i) % count]
            if consumer.has_credit():
                queue.turn = (queue.turn + i + 1) % count
                return consumer
        return None

    def _fill(self, consumer: _Consumer) -> None:
        """Give a consumer with new credit the messages waiting in its queues."""
        now = time.monotonic()
        for name in consumer.queues:
            queue = self._queues.get(name)
            while queue is not None and queue.ready and consumer.has_credit():
                msg = queue.ready.popleft()
                if msg.expires_at is None or msg.expires_at > now:
                    consumer.push(next(self._tags), name, msg)

    def settle(self, consumer: _Consumer, tag: int, requeue: bool | None) -> None:
        """Ack (``requeue is None``) or reject a delivered message."""
        with self._lock:
            entry = consumer.unacked.pop(tag, None)
            if entry is None:
                if tag in consumer.dropped:
                    consumer.dropped.discard(tag)
                    raise ConnectionLost(reason="the broker restarted; this delivery died with it")
                return
            queue_name, msg = entry
            queue = self._queues.get(queue_name)
            if requeue and queue is not None:
                msg.redelivered = True
                queue.ready.appendleft(msg)
                self._redeliver(queue)
            elif len(consumer.unacked) + 1 < consumer.prefetch:
                # it had credit before this ack: nothing waits in its queues (a message
                # waits only while every consumer of its queue is out of credit, and one
                # whose credit comes back is filled here), so there is nothing to fill
                return
            self._fill(consumer)

    def _redeliver(self, queue: _Queue) -> None:
        while queue.ready:
            consumer = self._next_consumer(queue)
            if consumer is None:
                return
            consumer.push(next(self._tags), queue.spec.name, queue.ready.popleft())

    # -- consumers ----------------------------------------------------------------------
    def consume(
        self,
        queues: Sequence[str],
        callback: DeliverCallback,
        prefetch: int,
        name: str,
        kind: Callable[..., _Consumer] | None = None,
    ) -> _Consumer:
        consumer = (kind or _Consumer)(self, list(queues), callback, prefetch, name)
        consumer.start()
        with self._lock:
            for q in queues:
                queue = self._queues[q]
                queue.consumers.append(consumer)
                queue.had_consumer = True
            self._fill(consumer)
        return consumer

    def attach(self, consumer: _Consumer) -> None:
        """Put a consumer back on its (redeclared) queues after a restart."""
        with self._lock:
            for q in consumer.queues:
                queue = self._queues[q]
                if consumer not in queue.consumers:
                    queue.consumers.append(consumer)
            self._fill(consumer)

    def cancel(self, consumer: _Consumer, requeue: bool = True) -> None:
        """Deliver nothing more to ``consumer``; what it holds unacknowledged goes back to
        its queues, or (``requeue=False``) stays with it to be acked or rejected."""
        with self._lock:
            consumer.stopped = True
            for name in consumer.queues:
                queue = self._queues.get(name)
                if queue is None:
                    continue
                queue.consumers = [c for c in queue.consumers if c is not consumer]
                queue.last_used = time.monotonic()
            for _tag, (name, msg) in sorted(consumer.unacked.items(), reverse=True):
                queue = self._queues.get(name)
                if queue is not None and requeue:
                    msg.redelivered = True
                    queue.ready.appendleft(msg)
            if requeue:
                consumer.unacked.clear()
            for name in consumer.queues:
                queue = self._queues.get(name)
                if queue is None:
                    continue
                if queue.spec.auto_delete and not queue.consumers:
                    self.delete_queue(name)
                else:
                    self._redeliver(queue)

    # -- the view -----------------------------------------------------------------------
    def snapshot(self) -> BrokerSnapshot:
        with self._lock:
            self._expire()
            exchanges = tuple(
                ExchangeInfo(e.spec.name, e.spec.type, e.spec.durable, e.spec.auto_delete)
                for e in self._exchanges.values()
            )
            queues = tuple(
                QueueInfo(
                    q.spec.name,
                    messages=len(q.ready),
                    unacked=sum(
                        1 for c in q.consumers for n, _ in c.unacked.values() if n == q.spec.name
                    ),
                    consumers=len(q.consumers),
                    durable=q.spec.durable,
                    auto_delete=q.spec.auto_delete,
                    exclusive=q.spec.exclusive,
                    arguments=dict(q.spec.arguments),
                )
                for q in self._queues.values()
            )
            bindings = tuple(
                [BindingInfo("", n, n) for n in self._queues]
                + [
                    BindingInfo(e.spec.name, key, queue)
                    for e in self._exchanges.values()
                    for key, queue in e.bindings
                ]
            )
        return BrokerSnapshot("memory", exchanges, queues, bindings)


class MemoryDriver:
    """The Driver interface over a MemoryBroker (a new one unless one is given)."""

    url = "memory://"

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self.broker = broker if broker is not None else MemoryBroker()
        self._consumers: dict[_Consumer, Sequence[Subscription]] = {}
        self._lock = threading.Lock()
        self.broker.on_restart(self._reconnect)

    def _reconnect(self) -> None:
        """After a restart (under the broker's lock): redeclare and re-attach every live
        consumer, as kombu does when it reconnects."""
        with self._lock:
            consumers = list(self._consumers.items())
        for consumer, subscriptions in consumers:
            if not consumer.stopped:
                self.declare(subscriptions)
                self.broker.attach(consumer)

    def declare(self, subscriptions: Sequence[Subscription]) -> None:
        for sub in subscriptions:
            self.broker.declare_queue(sub.queue)
            for exchange, key in sub.bindings:
                if exchange.name:
                    self.broker.declare_exchange(exchange)
                    self.broker.bind(sub.queue.name, exchange.name, key)

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
        declare = exchange if exchange.name else None
        self.broker.publish(exchange.name, routing_key, body, properties, mandatory, declare)

    def consume(
        self,
        subscriptions: Sequence[Subscription],
        callback: DeliverCallback,
        *,
        prefetch: int = 64,
        name: str = "",
        read_by_callers: bool = False,
        workers: WorkerPool | None = None,
    ) -> _Consumer:
        kind: Callable[..., _Consumer] | None = None
        if read_by_callers:  # a reply queue: each wake-up of a thread costs a caller ~20 us
            from labcloud.messaging.memreplies import CallerReadConsumer

            kind = CallerReadConsumer
        elif workers is not None:  # a server's queues: its workers receive, no thread between
            from labcloud.messaging.memworkers import WorkerReadConsumer

            kind = functools.partial(WorkerReadConsumer, workers=workers)
        self.declare(subscriptions)
        consumer = self.broker.consume(
            [s.queue.name for s in subscriptions], callback, prefetch, name, kind
        )
        with self._lock:
            self._consumers[consumer] = list(subscriptions)
        return consumer

    def snapshot(self) -> BrokerSnapshot:
        return self.broker.snapshot()

    def close(self) -> None:
        with self._lock:
            consumers, self._consumers = list(self._consumers), {}
        for consumer in consumers:
            consumer.stop()
