"""The RabbitMQ driver, on kombu (py-amqp underneath).

Publishing uses a small pool of connections whose channels are in confirm mode: a publish
returns once the broker has taken the message, and with ``mandatory`` a message no queue
takes comes back as MessageUndeliverable instead of vanishing. A lost connection is
reopened and the publish retried until its deadline, so a cast either reaches a queue or
its caller gets an exception. Each consumer runs in its own thread with its own
connection, and redeclares its queues and bindings whenever it reconnects.

RabbitMQ confirms a message once a queue holds it, but oslo.messaging's queues are not
durable: a broker that stops deletes them with whatever they still hold. So the driver
keeps the casts it sent in the last few seconds, and after it sees the broker go away it
publishes them again once the broker is back (oslo's envelope gives each a ``_unique_id``;
``RPCServer`` drops the duplicates). A message that cannot be replayed is logged as lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from queue import Empty, LifoQueue
from typing import Any

import amqp.exceptions
import kombu
import kombu.exceptions

from labcloud.messaging.amqpconsumer import AmqpConsumer, declare_all
from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.driver import DeliverCallback, PropertyMap
from labcloud.messaging.exceptions import (
    ExchangeNotFound,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingError,
    PreconditionFailed,
)
from labcloud.messaging.topology import ExchangeSpec, Subscription

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 30.0  # seconds a publish keeps retrying a lost connection
RECOVERY_WINDOW = 30.0  # after a reconnect, unroutable messages are retried: queues come back
POOL_SIZE = 8
REPLAY_WINDOW = 5.0  # seconds: messages confirmed this long before a broker loss are resent
REPLAY_LIMIT = 50_000  # at most this many recent messages are kept for a replay


@dataclass(frozen=True)
class _Sent:
    at: float
    exchange: ExchangeSpec
    routing_key: str
    body: bytes
    properties: PropertyMap
    mandatory: bool


class _Publisher:
    """One pooled connection + confirm-mode channel, with the exchanges it has declared."""

    def __init__(self, url: str) -> None:
        self.conn = kombu.Connection(url, transport_options={"confirm_publish": True})
        self.conn.ensure_connection(max_retries=1, timeout=5)
        self.channel = self.conn.channel()
        self.channel.events["basic_return"].add(self._on_return)
        self.declared: set[str] = set()
        self.returned: str | None = None

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self.returned = f"{exc}"

    def publish(
        self, exchange: ExchangeSpec, key: str, body: bytes, props: PropertyMap, mandatory: bool
    ) -> None:
        if exchange.name and exchange.name not in self.declared:
            declare_exchange(self.channel, exchange)
            self.declared.add(exchange.name)
        self.returned = None
        expiration = props.get("expiration")
        message = self.channel.prepare_message(
            body,
            content_type=props.get("content_type", "application/json"),
            content_encoding=props.get("content_encoding", "utf-8"),
            properties={"delivery_mode": props.get("delivery_mode", 1)}
            | ({"expiration": str(int(expiration * 1000))} if expiration else {}),
        )
        self.channel.basic_publish(
            message, exchange=exchange.name, routing_key=key, mandatory=mandatory
        )
        if self.returned is not None:
            raise MessageUndeliverable(exchange=exchange.name, routing_key=key)

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:  # closing a broken connection can fail in many ways; it is gone anyway
            LOG.debug("error closing a publisher connection", exc_info=True)


def declare_exchange(channel: Any, spec: ExchangeSpec) -> None:
    kombu.Exchange(
        spec.name, spec.type, durable=spec.durable, auto_delete=spec.auto_delete, channel=channel
    ).declare()


class AmqpDriver:
    """Driver for ``amqp://user:password@host:port/vhost`` (RabbitMQ)."""

    def __init__(self, url: str, *, publish_timeout: float = PUBLISH_TIMEOUT) -> None:
        self.url = url
        self.publish_timeout = publish_timeout
        self._pool: LifoQueue[_Publisher] = LifoQueue()
        self._consumers: list[AmqpConsumer] = []
        self._lock = threading.Lock()
        self._last_failure = 0.0
        self._closed = False
        self._sent: deque[_Sent] = deque(maxlen=REPLAY_LIMIT)
        self._replay_pending = False
        self.replayed = 0  # messages resent after broker losses (for tests and the curious)
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
        replay: bool = False,
    ) -> None:
        self._publish(exchange, routing_key, body, properties or {}, mandatory, timeout)
        if replay:  # casts; a call whose request or reply is lost ends in MessagingTimeout
            self._sent.append(
                _Sent(time.monotonic(), exchange, routing_key, body, properties or {}, mandatory)
            )

    def _publish(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        properties: PropertyMap,
        mandatory: bool,
        timeout: float | None,
    ) -> None:
        deadline = time.monotonic() + (self.publish_timeout if timeout is None else timeout)
        delay = 0.05
        while True:
            try:
                self._publish_once(exchange, routing_key, body, properties, mandatory)
                return
            except MessageUndeliverable:
                if not self._recovering() or time.monotonic() + delay > deadline:
                    raise
            except self.connection_errors as exc:
                self.note_failure()
                if time.monotonic() + delay > deadline:
                    raise MessageDeliveryFailure(reason=f"broker unreachable: {exc}") from exc
                LOG.warning("publish to %r failed (%s); retrying", exchange.name, exc)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _publish_once(
        self, exchange: ExchangeSpec, key: str, body: bytes, props: PropertyMap, mandatory: bool
    ) -> None:
        pub = self._acquire()
        try:
            pub.publish(exchange, key, body, props, mandatory)
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
            pub.close()
            raise
        self._release(pub)

    def _acquire(self) -> _Publisher:
        try:
            return self._pool.get_nowait()
        except Empty:
            return _Publisher(self.url)

    def _release(self, pub: _Publisher) -> None:
        if self._closed or self._pool.qsize() >= POOL_SIZE:
            pub.close()
        else:
            self._pool.put(pub)

    def note_failure(self) -> None:
        """Remember that the broker went away: its queues may take a while to come back.

        The first failure of an outage also starts a thread that resends what the broker
        may have dropped with its queues, once it answers again.
        """
        now = time.monotonic()
        self._last_failure = now
        with self._lock:
            if self._replay_pending or self._closed:
                return
            self._replay_pending = True
        threading.Thread(target=self._replay, args=(now,), name="amqp-replay", daemon=True).start()

    def _wait_for_broker(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.1
        while not self._closed and time.monotonic() < deadline:
            try:
                with kombu.Connection(self.url) as conn:
                    conn.ensure_connection(max_retries=1, timeout=2)
                return True
            except self.connection_errors:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return False

    def _replay(self, failed_at: float) -> None:
        try:
            back = self._wait_for_broker(timeout=300)
        finally:
            with self._lock:
                self._replay_pending = False
        at_risk = [s for s in list(self._sent) if s.at >= failed_at - REPLAY_WINDOW]
        if not at_risk:
            return
        if not back:
            LOG.error("the broker did not come back: %d recent messages may be lost", len(at_risk))
            return
        LOG.warning("the broker came back; resending %d recent messages", len(at_risk))
        for sent in at_risk:
            try:
                self._publish(
                    sent.exchange,
                    sent.routing_key,
                    sent.body,
                    sent.properties,
                    sent.mandatory,
                    RECOVERY_WINDOW,
                )
                self.replayed += 1
            except MessagingError as exc:
                LOG.error(
                    "a message to %s/%s was lost with the broker's queues: %s",
                    sent.exchange.name,
                    sent.routing_key,
                    exc,
                )

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
    ) -> AmqpConsumer:
        consumer = AmqpConsumer(self, subscriptions, callback, prefetch=prefetch, name=name)
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
                self._pool.get_nowait().close()
            except Empty:
                break
