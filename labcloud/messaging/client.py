"""The RPC client: ``call`` waits for a result, ``cast`` does not, ``prepare`` re-targets.

Shaped like oslo.messaging's RPCClient, so nova-style rpcapi modules read the same::

    cctxt = client.prepare(server=host)
    cctxt.cast(ctxt, "build_and_run_instance", instance=instance)
    hosts = client.call(ctxt, "select_destinations", spec=spec)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from labcloud.context import RequestContext
from labcloud.messaging import envelope
from labcloud.messaging.driver import Delivery, ReadByCallers
from labcloud.messaging.exceptions import InvalidMessage, MessagingError, MessagingTimeout
from labcloud.messaging.target import Target
from labcloud.messaging.topology import (
    Subscription,
    publish_exchange,
    reply_queue_name,
    transient_queue,
)

if TYPE_CHECKING:
    from labcloud.messaging.transport import Transport

LOG = logging.getLogger(__name__)
Context = RequestContext | Mapping[str, Any] | None


class _Slot:
    """Where one reply lands; a pre-acquired lock is the cheapest way to wait for it."""

    __slots__ = ("_lock", "reply")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.reply: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.reply is not None

    def put(self, reply: dict[str, Any]) -> None:
        if self.reply is None:
            self.reply = reply
            self.wake()

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # woken already, and not parked since
            self._lock.release()

    def park(self, timeout: float) -> None:
        self._lock.acquire(timeout=timeout)


class ReplyWaiter:
    """Consumes this transport's ``reply_<uuid>`` queue and hands each reply to its caller."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.queue = reply_queue_name()
        self._slots: dict[str, _Slot] = {}
        sub = Subscription(transient_queue(self.queue))
        self._consumer = transport.driver.consume(
            [sub], self._on_reply, name=self.queue, read_by_callers=True
        )
        consumer = self._consumer
        self._reader = consumer if isinstance(consumer, ReadByCallers) else None

    def listen(self, msg_id: str) -> _Slot:
        slot = self._slots[msg_id] = _Slot()
        return slot

    def wait(self, slot: _Slot, timeout: float) -> dict[str, Any] | None:
        """The reply, or None after ``timeout``; read in this thread when the driver can."""
        if self._reader is not None:
            self._reader.wait(slot, timeout)
        elif not slot.done:
            slot.park(timeout)
        return slot.reply

    def unlisten(self, msg_id: str) -> None:
        self._slots.pop(msg_id, None)

    def _on_reply(self, delivery: Delivery) -> None:
        try:
            msg = self._handle_reply(delivery)
        except Exception as exc:  # no reply may kill the reply consumer (oslo: "skipping it")
            LOG.exception("Failed to process message on %s ... skipping it.", self.queue)
            if not delivery.settled:
                delivery.reject(requeue=False)
            self.transport.tap.emit(
                "reject",
                "reply",
                exchange=delivery.exchange,
                routing_key=delivery.routing_key,
                queue=self.queue,
                reason=f"{type(exc).__name__}: {exc}",
            )
            return
        try:
            if not delivery.settled:  # after waking the caller: off the call's critical path
                delivery.ack()
        except Exception as exc:  # the connection is gone; its caller already has the reply
            LOG.info("could not acknowledge a reply on %s: %s", self.queue, exc)
        if msg is not None and self.transport.tap.active:
            self.transport.tap.emit(
                "ack",
                "reply",
                exchange=delivery.exchange,
                routing_key=delivery.routing_key,
                queue=self.queue,
                msg=msg,
                size=len(delivery.body),
            )

    def _handle_reply(self, delivery: Delivery) -> dict[str, Any] | None:
        """Hand the reply to its caller; return it (None when it was not a reply at all)."""
        tap = self.transport.tap
        exchange, routing_key = delivery.exchange, delivery.routing_key
        try:
            msg = envelope.unpack(delivery.body)
        except InvalidMessage as exc:
            LOG.warning("ignored a malformed reply on %s: %s", self.queue, exc)
            delivery.reject(requeue=False)
            tap.emit(
                "reject",
                "reply",
                exchange=exchange,
                routing_key=routing_key,
                queue=self.queue,
                reason=str(exc),
            )
            return None
        if tap.active:
            tap.emit(
                "deliver",
                "reply",
                exchange=exchange,
                routing_key=routing_key,
                queue=self.queue,
                msg=msg,
                size=len(delivery.body),
            )
        slot = self._slots.get(str(msg.get("_msg_id")))
        if slot is None:
            LOG.info("reply to %s arrived after its caller gave up", msg.get("_msg_id"))
            return msg
        slot.put(msg)
        return msg

    def stop(self) -> None:
        self._consumer.stop()


class RPCClient:
    """Sends calls and casts to a Target over a Transport."""

    def __init__(
        self,
        transport: Transport,
        target: Target,
        *,
        timeout: float | None = None,
        service: str = "",
    ) -> None:
        self.transport = transport
        self.target = target
        self.timeout = transport.rpc_response_timeout if timeout is None else timeout
        self.service = service
        self._address = publish_exchange(target)  # the target is frozen: found once

    def prepare(self, *, timeout: float | None = None, **target_changes: Any) -> RPCClient:
        """A client for a narrower target (``server=``, ``fanout=``, ``version=`` ...)."""
        target = replace(self.target, **target_changes)
        return RPCClient(
            self.transport, target, timeout=timeout or self.timeout, service=self.service
        )

    def cast(self, ctxt: Context, method: str, **kwargs: Any) -> None:
        """Send and return once the broker has confirmed it (fanout: to every server).

        Waits at most ``timeout`` for the broker, then raises MessageDeliveryFailure. A
        confirmed cast sits in a non-durable queue until a server takes it: a broker
        restart before then loses it, as in OpenStack (nothing resends it).
        """
        msg = envelope.request(
            method, kwargs, ctxt, version=self.target.version, namespace=self.target.namespace
        )
        kind = "fanout" if self.target.fanout else "cast"
        self._publish(msg, kind, mandatory=not self.target.fanout, expiration=None)

    def call(self, ctxt: Context, method: str, **kwargs: Any) -> Any:
        """Send, wait for the reply, return its result or raise the remote exception."""
        if self.target.fanout:
            raise MessagingError("a call cannot be a fanout: use cast(), or prepare(server=...)")
        msg = envelope.request(
            method, kwargs, ctxt, version=self.target.version, namespace=self.target.namespace
        )
        replies = self.transport.reply_waiter()
        msg_id = envelope.new_id()
        msg.update(_msg_id=msg_id, _reply_q=replies.queue, _timeout=None)
        slot = replies.listen(msg_id)
        deadline = time.monotonic() + self.timeout  # one timeout for the publish and the reply
        try:
            self._publish(msg, "call", mandatory=True, expiration=self.timeout)
            reply = replies.wait(slot, max(0.0, deadline - time.monotonic()))
        finally:
            replies.unlisten(msg_id)
        if reply is None:
            raise MessagingTimeout(
                f"Timed out after {self.timeout} s waiting for a reply to {method!r} on "
                f"{self.target.exchange}/{self.target.routing_key} (msg_id {msg_id})",
                msg_id=msg_id,
                timeout=self.timeout,
            )
        if reply.get("failure"):
            raise envelope.deserialize_failure(reply["failure"])
        return reply.get("result")

    def _publish(
        self,
        msg: dict[str, Any],
        kind: str,
        *,
        mandatory: bool,
        expiration: float | None,
    ) -> None:
        exchange, key = self._address
        body = envelope.pack(msg)
        tap = self.transport.tap
        if tap.active:
            tap.emit("publish", kind, **self._where(msg, body))
        try:
            self.transport.driver.publish(
                exchange,
                key,
                body,
                properties={"expiration": expiration} if expiration else None,
                mandatory=mandatory,
                timeout=self.timeout,
            )
        except MessagingError as exc:
            tap.emit("reject", kind, **self._where(msg, body), reason=str(exc))
            raise

    def _where(self, msg: dict[str, Any], body: bytes) -> dict[str, Any]:
        """Where a published message went, as its trace events say it (built only for
        a tap that is listening)."""
        exchange, key = self._address
        return {
            "exchange": exchange.name,
            "routing_key": key,
            "msg": msg,
            "size": len(body),
            "service": self.service,
        }
