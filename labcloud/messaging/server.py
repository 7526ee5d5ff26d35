"""The RPC server: consumes a service's queues and runs endpoint methods in a thread pool.

A server on ``Target(exchange="nova", topic="compute", server="node1")`` consumes
``compute``, ``compute.node1`` and ``compute_fanout_<uuid>``. Each message is acknowledged on
receipt (as oslo.messaging does), then dispatched on a worker thread; a call's result or
exception goes back to the caller's reply queue through the default exchange. A message that
is not an RPC request is rejected, traced and logged, and the server keeps serving. A message
whose ``_unique_id`` the server has already seen (the RabbitMQ driver resends recent
messages after a broker restart) is acknowledged and dropped, as oslo.messaging once did
with its message-id cache.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.messaging import envelope
from labcloud.messaging.dispatcher import Dispatcher
from labcloud.messaging.driver import Consumer, Delivery
from labcloud.messaging.exceptions import InvalidMessage, MessageUndeliverable, MessagingError
from labcloud.messaging.target import Target
from labcloud.messaging.topology import DEFAULT_EXCHANGE, server_subscriptions

if TYPE_CHECKING:
    from labcloud.messaging.transport import Transport

LOG = logging.getLogger(__name__)
REPLY_TIMEOUT = 30.0
SEEN_IDS = 100_000  # how many recent _unique_ids a server remembers to drop duplicates


class SeenIds:
    """A bounded set of recent message ids: ``add`` says whether the id is new."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, unique_id: str) -> bool:
        with self._lock:
            if unique_id in self._ids:
                return False
            self._ids[unique_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


def _validate(msg: dict[str, Any]) -> None:
    if not isinstance(msg.get("method"), str) or not msg["method"]:
        raise InvalidMessage(reason="no 'method' string")
    if not isinstance(msg.get("args", {}), dict):
        raise InvalidMessage(reason="'args' is not an object")


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
        self._executor: ThreadPoolExecutor | None = None
        self._consumer: Consumer | None = None
        self._fanout_prefix = f"{target.topic}_fanout_"
        self._seen = SeenIds()

    def start(self) -> None:
        if self._consumer is not None:
            return
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix=self.service)
        self._consumer = self.transport.driver.consume(
            server_subscriptions(self.target), self._on_delivery, name=self.service
        )

    def stop(self) -> None:
        """Stop taking messages; what is running finishes (see wait())."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop()

    def wait(self) -> None:
        """Wait for running methods to finish."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> RPCServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.wait()

    def _on_delivery(self, delivery: Delivery) -> None:
        tap = self.transport.tap
        where: dict[str, Any] = {
            "exchange": delivery.exchange,
            "routing_key": delivery.routing_key,
            "queue": delivery.queue,
            "size": len(delivery.body),
            "service": self.service,
        }
        try:
            msg = envelope.unpack(delivery.body)
            _validate(msg)
        except InvalidMessage as exc:
            delivery.reject(requeue=False)
            LOG.warning("%s rejected a message from %s: %s", self.service, delivery.queue, exc)
            tap.emit("reject", "", **where, reason=str(exc))
            return
        kind = (
            "call"
            if msg.get("_msg_id")
            else ("fanout" if delivery.queue.startswith(self._fanout_prefix) else "cast")
        )
        unique_id = msg.get("_unique_id")
        if isinstance(unique_id, str) and not self._seen.add(unique_id):
            delivery.ack()
            LOG.info("%s dropped a duplicate of message %s", self.service, unique_id)
            tap.emit("reject", kind, **where, msg=msg, reason="duplicate (already delivered)")
            return
        tap.emit("deliver", kind, **where, msg=msg)
        delivery.ack()  # on receipt, as oslo.messaging does: a crash mid-method loses it
        tap.emit("ack", kind, **where, msg=msg)
        executor = self._executor
        if executor is not None:
            executor.submit(self._handle, msg)

    def _handle(self, msg: dict[str, Any]) -> None:
        ctxt_dict, request = envelope.split_context(msg)
        ctxt = RequestContext.from_dict(ctxt_dict)
        method = request["method"]
        result, failure = None, None
        try:
            result = self.dispatcher.dispatch(
                ctxt,
                method,
                request.get("args") or {},
                namespace=request.get("namespace"),
                version=request.get("version"),
            )
        except LabCloudError as exc:
            LOG.info("%s.%s raised %s", self.service, method, exc)
            failure = envelope.serialize_failure(exc)
        except Exception as exc:
            LOG.exception("%s.%s failed", self.service, method)
            failure = envelope.serialize_failure(exc)
        msg_id, reply_q = request.get("_msg_id"), request.get("_reply_q")
        if msg_id and reply_q:
            self._reply(str(msg_id), str(reply_q), result, failure)

    def _reply(self, msg_id: str, reply_q: str, result: Any, failure: str | None) -> None:
        reply = envelope.reply(msg_id, result, failure)
        body = envelope.pack(reply)
        self.transport.tap.emit(
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
