"""The RabbitMQ driver, on kombu (py-amqp underneath).

Publishing uses a small pool of connections whose channels are in confirm mode: a publish
returns once the broker has taken the message, and with ``mandatory`` a message no queue
takes comes back as MessageUndeliverable instead of vanishing. A lost connection is
reopened and the publish retried, and every wait on the broker (connecting, declaring, its
confirm) is bounded by the publish's timeout, so a cast either reaches a queue in time or
its caller gets an exception. Each consumer runs in its own thread with its own
connection, and redeclares its queues and bindings whenever it reconnects.

As oslo.messaging's rabbit driver: messages are persistent (delivery_mode 2) with priority
0 and empty headers, connections have 60 s heartbeats, and nothing is ever resent once the
broker confirmed it. oslo's queues are not durable: a broker that stops deletes them with
whatever they still hold, and those messages are lost (the cloud's periodic tasks notice).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import amqp
import amqp.exceptions
import amqp.serialization
import amqp.spec
import kombu
import kombu.exceptions

from labcloud.messaging.amqpconsumer import HEARTBEAT, AmqpConsumer, declare_all
from labcloud.messaging.amqpframes import (
    ACK,
    NACK,
    PUBLISH,
    Message,
    drainer,
    properties,
    property_key,
    publish_args,
    write_method,
)
from labcloud.messaging.amqpreplies import AmqpReplyConsumer
from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.driver import DeliverCallback, PropertyMap
from labcloud.messaging.exceptions import (
    ExchangeNotFound,
    MessageDeliveryFailure,
    MessageUndeliverable,
    PreconditionFailed,
)
from labcloud.messaging.topology import ExchangeSpec, Subscription
from labcloud.messaging.workers import WorkerPool

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 30.0  # seconds a publish may take in all, retries included
CONNECT_TIMEOUT = 5.0  # seconds for one TCP + AMQP handshake
RECOVERY_WINDOW = 30.0  # after a reconnect, unroutable messages are retried: queues come back
POOL_SIZE = 8


class _Publisher:
    """One pooled connection + confirm-mode channel, with the exchanges it has declared."""

    def __init__(self, url: str, deadline: float) -> None:
        self.conn = kombu.Connection(
            url,
            heartbeat=HEARTBEAT,
            connect_timeout=max(0.1, min(CONNECT_TIMEOUT, deadline - time.monotonic())),
            transport_options={"confirm_publish": True},
        )
        self.conn.ensure_connection(max_retries=0)  # one attempt: the publish loop retries
        self.sock = self.conn.connection.transport.sock
        self.bound(deadline)
        self.channel = self.conn.channel()
        self.channel.confirm_select()
        self.channel.events["basic_return"].add(self._on_return)
        self.drain = drainer(self.conn)  # reads one method in (bounded: see bound())
        self.declared: set[str] = set()
        self.returned: str | None = None
        self.confirmed = False
        self.used = time.monotonic()

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self.returned = f"{exc}"

    def _on_confirm(self, method: Any, *args: Any) -> None:
        if method == NACK:
            raise amqp.exceptions.MessageNacked()
        self.confirmed = True

    def wait_confirm(self) -> None:
        """py-amqp's ``channel.wait([Ack, Nack])``: the channel's frames are read (a
        Basic.Return first, for a message no queue took) until the broker's confirm came
        in, less the promise it makes and the context manager it enters for each frame."""
        pending = self.channel._pending  # py-amqp's one-shot handlers, by method
        pending[ACK] = pending[NACK] = self._on_confirm
        self.confirmed = False
        try:
            while not self.confirmed:
                self.drain()
        finally:
            pending.pop(ACK, None)
            pending.pop(NACK, None)

    def bound(self, deadline: float) -> None:
        """Every socket read and write from now waits at most until ``deadline`` (oslo does
        the same around a publish), the wait for a confirm included (py-amqp waits on the
        socket's timeout): a frozen broker ends in TimeoutError, not a hang, and a
        connection that timed out is discarded. Left set after the publish: a pooled
        publisher's socket is only used by publishes, and each one sets it again."""
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))

    def publish(
        self,
        exchange: ExchangeSpec,
        key: str,
        body: bytes,
        props: PropertyMap,
        mandatory: bool,
        deadline: float,
    ) -> None:
        self.bound(deadline)
        if exchange.name and exchange.name not in self.declared:
            declare_exchange(self.channel, exchange)
            self.declared.add(exchange.name)
        self.returned = None
        # py-amqp's basic_publish_confirm, less what is the same for every message: the
        # Basic.Publish arguments and the properties are encoded once per (exchange, key)
        # and per property set (the same bytes py-amqp writes), and the frames go straight
        # to the connection's writer, without the connection.blocked poll py-amqp makes
        # before every publish (a read that fails with EWOULDBLOCK, and two timeout
        # changes): the wait for the confirm reads whatever the broker sent, that included.
        message = Message(body, properties(property_key(props)))
        write_method(self.channel, PUBLISH, publish_args(exchange.name, key, mandatory), message)
        self.wait_confirm()
        self.used = time.monotonic()
        if self.returned is not None:
            raise MessageUndeliverable(exchange=exchange.name, routing_key=key)

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:  # closing a broken connection can fail in many ways; it is gone anyway
            LOG.debug("error closing a publisher connection", exc_info=True)

    def discard(self) -> None:
        """Drop a connection that failed mid-frame, without talking to the broker."""
        try:
            self.conn.collect()
        except Exception:
            LOG.debug("error discarding a publisher connection", exc_info=True)


def declare_exchange(channel: Any, spec: ExchangeSpec) -> None:
    kombu.Exchange(
        spec.name, spec.type, durable=spec.durable, auto_delete=spec.auto_delete, channel=channel
    ).declare()


class AmqpDriver:
    """Driver for ``amqp://user:password@host:port/vhost`` (RabbitMQ)."""

    def __init__(self, url: str, *, publish_timeout: float = PUBLISH_TIMEOUT) -> None:
        self.url = url
        self.publish_timeout = publish_timeout
        # idle publishers, the most recently used last: list.append and list.pop are atomic,
        # so taking one and giving it back need no lock (a queue.Queue takes three)
        self._pool: list[_Publisher] = []
        self._consumers: list[AmqpConsumer] = []
        self._lock = threading.Lock()
        self._last_failure = 0.0
        self._closed = False
        probe = kombu.Connection(url)
        # kombu raises OperationalError when it cannot (re)connect at all: also worth a retry
        self.connection_errors: tuple[type[BaseException], ...] = (
            probe.recoverable_connection_errors
            + probe.recoverable_channel_errors
            + (kombu.exceptions.OperationalError, OSError)
        )
        probe.release()

    # -- publishing ---------------------------------------------------------------------
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
        deadline = time.monotonic() + (self.publish_timeout if timeout is None else timeout)
        delay = 0.05
        while True:
            try:
                self._publish_once(
                    exchange, routing_key, body, properties or {}, mandatory, deadline
                )
                return
            except MessageUndeliverable:
                if not self._recovering() or time.monotonic() + delay > deadline:
                    raise
            except self.connection_errors as exc:
                self.note_failure()
                if time.monotonic() + delay > deadline:
                    raise MessageDeliveryFailure(
                        reason=f"no confirm from the broker in time ({exc or type(exc).__name__})"
                    ) from exc
                LOG.warning("publish to %r failed (%s); retrying", exchange.name, exc)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _publish_once(
        self,
        exchange: ExchangeSpec,
        key: str,
        body: bytes,
        props: PropertyMap,
        mandatory: bool,
        deadline: float,
    ) -> None:
        pub = self._acquire(deadline)
        try:
            pub.publish(exchange, key, body, props, mandatory, deadline)
        except MessageUndeliverable:
            self._release(pub)
            raise
        except amqp.exceptions.NotFound as exc:
            pub.close()
            raise ExchangeNotFound(exchange=exchange.name) from exc
        except amqp.exceptions.PreconditionFailed as exc:
            pub.close()
            raise PreconditionFailed(what="exchange", name=exchange.name, detail=str(exc)) from exc
        except BaseException:
            pub.discard()
            raise
        self._release(pub)

    def _acquire(self, deadline: float) -> _Publisher:
        while True:
            try:
                pub = self._pool.pop()
            except IndexError:
                return _Publisher(self.url, deadline)
            if time.monotonic() - pub.used < HEARTBEAT / 2:
                return pub
            pub.discard()  # idle past half a heartbeat: the broker may have closed it

    def _release(self, pub: _Publisher) -> None:
        if self._closed or len(self._pool) >= POOL_SIZE:
            pub.close()
        else:
            self._pool.append(pub)

    def note_failure(self) -> None:
        """Remember that the broker went away: its queues may take a while to come back."""
        self._last_failure = time.monotonic()

    def _recovering(self) -> bool:
        return time.monotonic() - self._last_failure < RECOVERY_WINDOW

    # -- consuming and declaring --------------------------------------------------------
    def declare(self, subscriptions: Sequence[Subscription]) -> None:
        with kombu.Connection(self.url) as conn:
            conn.ensure_connection(max_retries=3)
            declare_all(conn.default_channel, subscriptions)

    def consume(
        self,
        subscriptions: Sequence[Subscription],
        callback: DeliverCallback,
        *,
        prefetch: int = 64,
        name: str = "",
        read_by_callers: bool = False,
        workers: WorkerPool | None = None,  # not used: acks go out on the consumer's channel
    ) -> AmqpConsumer:
        kind = AmqpReplyConsumer if read_by_callers else AmqpConsumer
        consumer = kind(self, subscriptions, callback, prefetch=prefetch, name=name)
        with self._lock:
            self._consumers.append(consumer)
        consumer.start()
        return consumer

    def snapshot(self) -> BrokerSnapshot:
        from labcloud.messaging.rabbitview import rabbitmq_snapshot

        return rabbitmq_snapshot(self.url)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.stop()
        while True:
            try:
                self._pool.pop().close()
            except IndexError:
                break
