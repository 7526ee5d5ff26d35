"""memory://'s reply-queue consumer, read by the callers that wait on it (as on RabbitMQ).

A call waiting for its reply takes the consumer's inbox itself when no other caller reads
it, so its reply is decoded, traced and acknowledged in its own thread: the server's worker
wakes the caller directly, where a consumer thread in between cost one more wake-up and
thread switch per call. While one caller reads, the others park; the reader hands each
reply it reads to its caller and, once it has its own, wakes a parked caller to read next.
With no caller reading, the consumer's own thread is woken to read what arrives (a reply
whose caller gave up), so nothing waits in the inbox unread and an idle cloud sleeps.
"""

from __future__ import annotations

import contextlib
import threading
import time
from queue import Empty

from labcloud.messaging.driver import DeliverCallback, Parked
from labcloud.messaging.memory import MemoryBroker, _Consumer, _Message


class CallerReadConsumer(_Consumer):
    def __init__(
        self,
        broker: MemoryBroker,
        queues: list[str],
        callback: DeliverCallback,
        prefetch: int,
        name: str,
    ) -> None:
        super().__init__(broker, queues, callback, prefetch, name)
        self._state = threading.Lock()
        self._reading = False  # a caller, or this consumer's thread, reads the inbox
        self._parked: list[Parked] = []
        self._kick = threading.Lock()  # released: this consumer's thread has reading to do
        self._kick.acquire()

    def push(self, tag: int, queue: str, msg: _Message) -> None:  # called under broker lock
        super().push(tag, queue, msg)
        if not self._reading:  # read after the put: a reader ending its turn sees it
            self._wake_thread()

    def wait(self, waiter: Parked, timeout: float) -> None:
        """Return once ``waiter`` is done or after ``timeout``, reading the inbox in this
        thread whenever no other thread reads it."""
        deadline = time.monotonic() + timeout
        with self._state:
            self._parked.append(waiter)
        try:
            while not waiter.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if not self._take_turn():
                    waiter.park(left)  # woken by its reply, or to take its turn
                    continue
                try:
                    self._read_until(waiter, deadline)
                finally:
                    self._end_turn(waiter)
        finally:
            with self._state:
                self._parked.remove(waiter)
            if not waiter.done:  # timed out, maybe woken to read next: pass that on
                self._hand_over(waiter)

    def _take_turn(self) -> bool:
        with self._state:
            if self._reading or self.stopped:
                return False
            self._reading = True
            return True

    def _end_turn(self, reader: Parked | None) -> None:
        with self._state:
            self._reading = False
        self._hand_over(reader)

    def _hand_over(self, leaving: Parked | None) -> None:
        """Unless someone reads, wake a caller still waiting to read next, else this
        consumer's thread if something is left to read."""
        with self._state:
            if self._reading:
                return
            for waiter in self._parked:
                if waiter is not leaving and not waiter.done:
                    waiter.wake()
                    return
        if not self.inbox.empty():
            self._wake_thread()

    def _read_until(self, waiter: Parked, deadline: float) -> None:
        get, unacked = self.inbox.get, self.unacked
        while not waiter.done:
            try:
                item = get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                return
            if item is None:  # stopped: leave the sentinel for the consumer's thread
                self.inbox.put(None)
                return
            if item[0] in unacked:  # see _Consumer._run
                self._deliver(*item)

    def _wake_thread(self) -> None:
        with contextlib.suppress(RuntimeError):  # woken already, and not back asleep
            self._kick.release()

    def _run(self) -> None:
        while True:
            self._kick.acquire()
            if self.stopped:
                return
            if not self._take_turn():
                continue  # a caller reads: it takes what came, or wakes this thread again
            try:
                self._drain()
            finally:
                self._end_turn(None)

    def _drain(self) -> None:
        get, unacked = self.inbox.get_nowait, self.unacked
        while True:
            try:
                item = get()
            except Empty:
                return
            if item is None:
                return
            if item[0] in unacked:
                self._deliver(*item)

    def stop(self) -> None:
        self.broker.cancel(self)
        self.stopped = True
        self.inbox.put(None)  # a caller reading returns
        self._wake_thread()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=10)
