"""Trace events across processes: forward them to the ``labcloud.trace`` fanout exchange, or
watch that exchange from another process (a notebook watching services that run elsewhere).

The forwarder batches events in a bounded buffer and publishes them from its own thread, so a
traced service never waits on the broker for its trace; when the buffer is full the oldest
events are dropped and counted.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from typing import Any

from labcloud.messaging.driver import Delivery, Driver
from labcloud.messaging.exceptions import MessagingError
from labcloud.messaging.topology import TRACE_EXCHANGE, ExchangeSpec, Subscription, transient_queue
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import MessageEvent, event_from_dict

LOG = logging.getLogger(__name__)
TRACE_FANOUT = ExchangeSpec(TRACE_EXCHANGE, "fanout")


class TraceForwarder:
    """Publish every event of ``bus`` to the ``labcloud.trace`` fanout exchange."""

    def __init__(self, driver: Driver, bus: TraceBus, *, buffer: int = 10_000) -> None:
        self._driver = driver
        self._events: deque[dict[str, Any]] = deque(maxlen=buffer)
        self._wake = threading.Condition()
        self._stopped = False
        self.dropped = 0
        self._sub = bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="trace-forwarder", daemon=True)
        self._thread.start()

    def _on_event(self, event: MessageEvent) -> None:
        with self._wake:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append(event.to_dict())
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._events or self._stopped)
                batch = list(self._events)
                self._events.clear()
            if batch:
                self._publish(batch)
            if self._stopped and not self._events:
                return

    def _publish(self, batch: list[dict[str, Any]]) -> None:
        try:
            body = json.dumps(batch, default=str).encode()
            self._driver.publish(TRACE_FANOUT, "", body, timeout=5.0)
        except MessagingError as exc:
            LOG.warning("dropped %d trace events: %s", len(batch), exc)

    def stop(self) -> None:
        self._sub.close()
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=10)


class TraceWatcher:
    """Re-emit on a local bus the events other processes forward to ``labcloud.trace``."""

    def __init__(self, driver: Driver, bus: TraceBus) -> None:
        self._bus = bus
        queue = transient_queue(f"labcloud.trace_{uuid.uuid4().hex}")
        queue = type(queue)(queue.name, auto_delete=True, arguments=queue.arguments)
        self._consumer = driver.consume(
            [Subscription(queue, [(TRACE_FANOUT, "")])], self._on_batch, name="trace-watcher"
        )

    def _on_batch(self, delivery: Delivery) -> None:
        delivery.ack()
        try:
            batch = json.loads(delivery.body)
        except ValueError:
            LOG.warning("ignored a malformed trace batch on %s", TRACE_EXCHANGE)
            return
        for data in batch if isinstance(batch, list) else []:
            event = event_from_dict(data) if isinstance(data, dict) else None
            if event is not None:
                self._bus.emit(event)

    def stop(self) -> None:
        self._consumer.stop()
