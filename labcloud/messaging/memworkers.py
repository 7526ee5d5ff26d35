"""memory://'s consumer for an RPC server's queues, read by the server's own workers.

On RabbitMQ a consumer thread receives each message (decodes, traces and acknowledges it)
and hands it to a worker, which runs the method: two threads woken per message. Here the
broker hands each message to the server's worker pool: one worker wakes, receives it and
runs its method itself. Receiving stays in delivery order, one message at a time, as a
consumer thread does it: the worker that received a message asks for a worker to receive
the next one before it runs the method (so a server held at a breakpoint on a delivery
receives nothing else, and no two workers wait for each other to receive). As
in oslo.messaging, whose workers acknowledge a message when they start it, a message that
no worker is free to take yet waits unacknowledged, and counts against the prefetch; one
pushed before the server stopped is still received and run.
"""

from __future__ import annotations

import threading
from collections import deque

from labcloud.messaging.driver import DeliverCallback
from labcloud.messaging.memory import MemoryBroker, _Consumer, _Message
from labcloud.messaging.workers import WorkerPool


class WorkerReadConsumer(_Consumer):
    def __init__(
        self,
        broker: MemoryBroker,
        queues: list[str],
        callback: DeliverCallback,
        prefetch: int,
        name: str,
        *,
        workers: WorkerPool,
    ) -> None:
        super().__init__(broker, queues, callback, prefetch, name)
        self._workers = workers
        self._waiting: deque[tuple[int, str, _Message]] = deque()  # pushed, not yet received
        self._state = threading.Lock()
        self._receiving = False  # a worker was asked to receive, and has not finished yet

    def start(self) -> None:
        """Nothing to start: the workers receive (this consumer's thread is never run)."""

    def push(self, tag: int, queue: str, msg: _Message) -> None:  # called under broker lock
        self.unacked[tag] = (queue, msg)
        with self._state:
            self._waiting.append((tag, queue, msg))
            if self._receiving:  # the worker receiving asks for the next one when done
                return
            self._receiving = True
        self._workers.take(self._receive)  # after shutdown: left unacked until cancelled

    def _receive(self) -> None:
        """Receive the oldest message waiting, then have a worker receive the next: one
        worker receives at a time, in delivery order, as a consumer thread would."""
        with self._state:
            tag, queue, msg = self._waiting.popleft()
        try:
            # a tag no longer unacked went back to its queue (cancel) or was lost with the
            # connection (restart) before a worker took it: it is not delivered
            if tag in self.unacked:
                self._deliver(tag, queue, msg)
        finally:
            with self._state:
                self._receiving = more = bool(self._waiting)
            if more:
                self._workers.take(self._receive)

    def stop(self) -> None:
        """Take no more messages; those already pushed are received and run (the server's
        ``wait()`` waits for them), as a consumer thread hands on what it was given."""
        self.broker.cancel(self, requeue=False)
