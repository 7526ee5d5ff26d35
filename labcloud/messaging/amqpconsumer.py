"""A RabbitMQ consumer thread that survives broker restarts.

It owns one connection, with 60 s heartbeats (oslo's ``heartbeat_timeout_threshold``)
checked between deliveries, so a broker that went silent is noticed. On every (re)connect it
declares its exchanges, queues and bindings again (a restarted broker has forgotten
non-durable ones), sets its prefetch, and consumes. The callback runs in this thread, so
acks and rejects go out on the connection they came in. A message whose callback raises is
logged and rejected without requeue, and the consumer goes on (oslo: "Failed to process
message ... skipping it."); only a lost connection interrupts it, to reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import amqp.exceptions
import amqp.spec
import kombu

from labcloud.messaging.amqpframes import ack, drainer
from labcloud.messaging.driver import DeliverCallback, Delivery
from labcloud.messaging.exceptions import PreconditionFailed
from labcloud.messaging.topology import Subscription

if TYPE_CHECKING:
    from labcloud.messaging.amqp import AmqpDriver

LOG = logging.getLogger(__name__)
DRAIN_TIMEOUT = 0.25  # how often an idle consumer looks at its stop flag and heartbeats
HEARTBEAT = 60  # seconds, oslo.messaging's heartbeat_timeout_threshold
HEARTBEAT_RATE = 2  # heartbeat checks per interval that kombu's heartbeat_check assumes


def declare_all(channel: Any, subscriptions: Sequence[Subscription]) -> None:
    """Declare each subscription's queue, its exchanges and its bindings on ``channel``."""
    from labcloud.messaging.amqp import declare_exchange

    for sub in subscriptions:
        q = sub.queue
        channel.queue_declare(
            queue=q.name,
            durable=q.durable,
            auto_delete=q.auto_delete,
            exclusive=q.exclusive,
            arguments=dict(q.arguments) or None,
        )
        for exchange, key in sub.bindings:
            if exchange.name:
                declare_exchange(channel, exchange)
                channel.queue_bind(queue=q.name, exchange=exchange.name, routing_key=key)


class AmqpConsumer:
    def __init__(
        self,
        driver: AmqpDriver,
        subscriptions: Sequence[Subscription],
        callback: DeliverCallback,
        *,
        prefetch: int,
        name: str,
    ) -> None:
        self._driver = driver
        self._subs = list(subscriptions)
        self._callback = callback
        self._prefetch = prefetch
        self._stopped = threading.Event()
        self.ready = threading.Event()  # set once consuming (again after each reconnect)
        self.reconnects = 0
        self.error: Exception | None = None  # a declare the broker refused (not retried)
        self._thread = threading.Thread(target=self._run, name=f"amqp-consumer-{name}", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self.ready.wait(timeout):
            LOG.warning("consumer %s is not consuming yet after %s s", self._thread.name, timeout)
        if self.error is not None:
            raise PreconditionFailed(
                what="queue", name=self._subs[0].queue.name, detail=str(self.error)
            ) from self.error

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        delay = 0.1
        while not self._stopped.is_set():
            try:
                with kombu.Connection(self._driver.url, heartbeat=HEARTBEAT) as conn:
                    conn.ensure_connection(max_retries=1, timeout=5)
                    self._consume(conn)
                    delay = 0.1
            except amqp.exceptions.IrrecoverableChannelError as exc:
                self.error = exc
                self.ready.set()
                LOG.error("consumer %s: the broker refused a declare: %s", self._thread.name, exc)
                return
            except self._driver.connection_errors as exc:
                self.ready.clear()
                self._driver.note_failure()
                self.reconnects += 1
                LOG.warning(
                    "consumer %s lost the broker (%s); reconnecting", self._thread.name, exc
                )
                self._stopped.wait(delay)
                delay = min(delay * 2, 2.0)

    def _consume(self, conn: Any) -> None:
        channel = conn.channel()
        channel.auto_decode = False  # bodies stay bytes: py-amqp would decode each to str
        declare_all(channel, self._subs)
        channel.basic_qos(0, self._prefetch, False)
        tags = [
            channel.basic_consume(queue=sub.queue.name, callback=self._on_message(channel, sub))
            for sub in self._subs
        ]
        # Reads wait DRAIN_TIMEOUT at most: set once here (the drainer reads with it, and
        # py-amqp's drain_events(timeout=DRAIN_TIMEOUT) finds it set and leaves it) instead
        # of being set and restored around each frame (two ioctls per frame, six a message).
        sock = conn.connection.transport.sock
        sock.settimeout(DRAIN_TIMEOUT)
        self.ready.set()
        try:
            self._serve(conn)
        finally:
            with contextlib.suppress(OSError):  # closed already when the broker went away
                sock.settimeout(None)
        try:  # cancel first, so nothing is delivered to a closing channel; unacked go back
            for tag in tags:
                channel.basic_cancel(tag)
            channel.close()
        except (*self._driver.connection_errors, amqp.exceptions.AMQPError):
            pass

    def _serve(self, conn: Any) -> None:
        """Drain deliveries (running the callback) until stopped; raise when the broker goes.

        Heartbeats are checked when a read times out and otherwise every DRAIN_TIMEOUT
        (kombu asks for a check about twice per heartbeat interval), not after every
        delivery: a busy consumer made as many checks as it took messages.
        """
        drain, check = drainer(conn), conn.heartbeat_check
        checked = time.monotonic()
        while not self._stopped.is_set():
            try:
                drain()
            except TimeoutError:  # nothing arrived: look at the stop flag and the heartbeats
                pass
            else:
                if time.monotonic() - checked < DRAIN_TIMEOUT:
                    continue
            check(rate=HEARTBEAT_RATE)  # raises when the broker's stopped
            checked = time.monotonic()

    def _on_message(self, channel: Any, sub: Subscription) -> Any:
        queue = sub.queue.name

        def deliver(message: Any) -> None:
            info = message.delivery_info
            tag = info["delivery_tag"]
            body = message.body
            delivery = Delivery(
                body=body.encode() if isinstance(body, str) else body,  # "" when bodyless
                exchange=info.get("exchange", ""),
                routing_key=info.get("routing_key", ""),
                queue=queue,
                properties=message.properties,  # the message's own dict, made for it
                redelivered=bool(info.get("redelivered")),
                ack_fn=partial(ack, channel, tag),
                reject_fn=partial(channel.basic_reject, tag),
            )
            try:
                self._callback(delivery)
            except self._driver.connection_errors:
                raise  # the connection is gone: reconnect (the broker requeues what we hold)
            except Exception:
                LOG.exception("Failed to process message from %s ... skipping it.", queue)
                if not delivery.settled:
                    delivery.reject(requeue=False)

        return deliver
