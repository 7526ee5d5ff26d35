"""The RPC server: consumes a service's queues and runs endpoint methods in a thread pool.

A server on ``Target(exchange="nova", topic="compute", server="node1")`` consumes
``compute``, ``compute.node1`` and ``compute_fanout_<uuid>``. Each message is acknowledged on
receipt, then dispatched on a worker thread (as oslo.messaging's rabbit driver does: when the
ack fails, the connection is gone and the broker will deliver the message again, so this
copy is discarded). A call's result or exception goes back to the caller's reply queue
through the default exchange; a request the server cannot run (no ``method`` string, bad
``args``, a context it cannot read) gets an error reply too, or is logged when nobody waits.
A body that does not decode is logged, traced and rejected, and the server keeps serving.
A message whose ``_unique_id`` was already handed to a worker (a copy redelivered because
its ack never reached the broker) is acknowledged and dropped, as oslo's ``_MsgIdCache``
does; an id is recorded only once its work was handed over.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.messaging import envelope
from labcloud.messaging.dispatcher import Dispatcher
from labcloud.messaging.driver import Consumer, Delivery
from labcloud.messaging.exceptions import InvalidMessage, MessageUndeliverable, MessagingError
from labcloud.messaging.target import Target
from labcloud.messaging.topology import DEFAULT_EXCHANGE, server_subscriptions
from labcloud.messaging.workers import WorkerPool

if TYPE_CHECKING:
    from labcloud.messaging.transport import Transport

LOG = logging.getLogger(__name__)
REPLY_TIMEOUT = 30.0
SEEN_IDS = 10_000  # how many recent _unique_ids a server remembers (oslo keeps 16)


class SeenIds:
    """A bounded set of recent message ids: ``add`` says whether the id is new."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def has(self, unique_id: str) -> bool:
        # no lock: one look-up of a str key in a dict is atomic under the GIL, and add()
        # (under the lock) only inserts or evicts whole entries
        return unique_id in self._ids

    def add(self, unique_id: str) -> bool:
        with self._lock:
            if unique_id in self._ids:
                return False
            self._ids[unique_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


def _request_of(msg: dict[str, Any]) -> tuple[RequestContext, str, dict[str, Any]]:
    """The context, method and arguments of a request; InvalidMessage when it has none."""
    method, args = msg.get("method"), msg.get("args", {})
    if not isinstance(method, str) or not method:
        raise InvalidMessage(reason=f"'method' is not a method name: {method!r}")
    if not isinstance(args, dict):
        raise InvalidMessage(reason=f"'args' is not an object: {type(args).__name__}")
    try:
        ctxt = envelope.request_context(msg)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidMessage(reason=f"bad _context_ fields: {exc}") from None
    return ctxt, method, args


class RPCServer:
    """Serve ``endpoints`` on ``target`` (which names a topic and a server)."""

    def __init__(
        self,
        transport: Transport,
        target: Target,
        endpoints: Sequence[object],
        *,
        workers: int = 8,
        service: str = "",
    ) -> None:
        self.transport = transport
        self.target = target
        self.service = service or target.topic
        self.dispatcher = Dispatcher(endpoints, target.topic)
        self._workers = workers
        self._executor: WorkerPool | None = None
        self._consumer: Consumer | None = None
        self._fanout_prefix = f"{target.topic}_fanout_"
        self._seen = SeenIds()

    def start(self) -> None:
        if self._consumer is not None:
            return
        self._executor = WorkerPool(self._workers, self.service)
        self._consumer = self.transport.driver.consume(
            server_subscriptions(self.target),
            self._on_delivery,
            name=self.service,
            workers=self._executor,
        )

    def stop(self) -> None:
        """Stop taking messages; what is running finishes (see wait())."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop()

    def wait(self) -> None:
        """Wait for running methods to finish (and those received meanwhile: memory://)."""
        executor = self._executor
        if executor is not None:
            executor.shutdown()
            self._executor = None

    def __enter__(self) -> RPCServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.wait()

    def _where(self, delivery: Delivery) -> dict[str, Any]:
        """Where a delivery came from, as its trace events say it (built only for them)."""
        return {
            "exchange": delivery.exchange,
            "routing_key": delivery.routing_key,
            "queue": delivery.queue,
            "size": len(delivery.body),
            "service": self.service,
        }

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            self._take(delivery)
        except Exception as exc:  # no message may kill the consumer (oslo: "... skipping it")
            LOG.exception(
                "%s: failed to process message from %s ... skipping it",
                self.service,
                delivery.queue,
            )
            if not delivery.settled:
                delivery.reject(requeue=False)
            self.transport.tap.emit(
                "reject", "", **self._where(delivery), reason=f"{type(exc).__name__}: {exc}"
            )

    def _take(self, delivery: Delivery) -> None:
        tap = self.transport.tap
        try:
            msg = envelope.unpack(delivery.body)
        except InvalidMessage as exc:
            delivery.reject(requeue=False)
            LOG.warning("%s rejected a message from %s: %s", self.service, delivery.queue, exc)
            tap.emit("reject", "", **self._where(delivery), reason=str(exc))
            return
        kind = (
            "call"
            if msg.get("_msg_id")
            else ("fanout" if delivery.queue.startswith(self._fanout_prefix) else "cast")
        )
        unique_id = msg.get("_unique_id")
        unique_id = unique_id if isinstance(unique_id, str) else None
        if unique_id is not None and self._seen.has(unique_id):
            delivery.ack()
            LOG.info("%s dropped a duplicate of message %s", self.service, unique_id)
            reason = "duplicate (already handled)"
            tap.emit("reject", kind, **self._where(delivery), msg=msg, reason=reason)
            return
        # asked once for both events (the bus's answer for this message)
        where = self._where(delivery) if tap.active else None
        if where is not None:
            tap.emit("deliver", kind, **where, msg=msg)
        try:
            delivery.ack()  # on receipt, as oslo.messaging does: a crash mid-method loses it
        except Exception as exc:  # the connection is gone: the broker will deliver it again
            LOG.warning(
                "%s: cannot acknowledge message %s (%s); skipping it", self.service, unique_id, exc
            )
            tap.emit("reject", kind, **self._where(delivery), msg=msg, reason=f"ack failed: {exc}")
            return
        if where is not None:
            tap.emit("ack", kind, **where, msg=msg)
        executor = self._executor
        try:
            if executor is None:
                raise RuntimeError("no worker pool")
            executor.submit(self._handle, msg, kind, delivery)
        except RuntimeError:  # shut down (a worker receiving a message still takes it)
            LOG.warning("%s is stopping: message %s dropped after its ack", self.service, unique_id)
            return
        if unique_id is not None:  # handed over: from now on a copy is a duplicate
            self._seen.add(unique_id)

    def _handle(self, msg: dict[str, Any], kind: str, delivery: Delivery) -> None:
        method = msg.get("method")
        result, failure = None, None
        try:
            ctxt, method, args = _request_of(msg)
            result = self.dispatcher.dispatch(
                ctxt, method, args, namespace=msg.get("namespace"), version=msg.get("version")
            )
        except InvalidMessage as exc:
            LOG.warning("%s cannot run a request: %s", self.service, exc)
            self.transport.tap.emit(
                "reject", kind, **self._where(delivery), msg=msg, reason=str(exc)
            )
            failure = envelope.serialize_failure(exc)
        except LabCloudError as exc:
            LOG.info("%s.%s raised %s", self.service, method, exc)
            failure = envelope.serialize_failure(exc)
        except Exception as exc:
            LOG.exception("%s.%s failed", self.service, method)
            failure = envelope.serialize_failure(exc)
        msg_id, reply_q = msg.get("_msg_id"), msg.get("_reply_q")
        if isinstance(msg_id, str) and msg_id and isinstance(reply_q, str) and reply_q:
            self._reply(msg_id, reply_q, result, failure)

    def _reply(self, msg_id: str, reply_q: str, result: Any, failure: str | None) -> None:
        reply = envelope.reply(msg_id, result, failure)
        body = envelope.pack(reply)
        tap = self.transport.tap
        if tap.active:
            tap.emit(
                "publish",
                "reply",
                exchange="",
                routing_key=reply_q,
                msg=reply,
                size=len(body),
                service=self.service,
            )
        try:
            self.transport.driver.publish(
                DEFAULT_EXCHANGE, reply_q, body, mandatory=True, timeout=REPLY_TIMEOUT
            )
        except MessageUndeliverable:
            LOG.info("the caller of %s went away (no queue %s); reply dropped", msg_id, reply_q)
        except MessagingError as exc:
            LOG.warning("could not send the reply to %s: %s", msg_id, exc)
