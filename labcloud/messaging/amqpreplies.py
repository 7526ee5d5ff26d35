"""The reply queue's consumer, drained by the callers that wait on it.

A call that waits for its reply reads the reply connection itself when no other caller is
reading it, so its reply is decoded and handed over in its own thread: no wake-up of a
waiting thread by the consumer's thread, which costs a round of thread switching per call.
While one caller reads, the others park; the reader hands each reply it reads to its caller
and, once it has its own, wakes one parked caller to read next. When no caller reads, the
consumer's thread takes its turn every DRAIN_TIMEOUT: replies nobody waits for any more
are acknowledged, heartbeats are checked, and a lost connection is reopened (the queue,
its binding and the consumer declared again), as every AmqpConsumer does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from labcloud.messaging.amqpconsumer import DRAIN_TIMEOUT, HEARTBEAT_RATE, AmqpConsumer
from labcloud.messaging.amqpframes import drainer
from labcloud.messaging.driver import Parked

POLL = 0.001  # seconds the consumer's thread reads for in its turn, when no caller reads


class AmqpReplyConsumer(AmqpConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state = threading.Lock()
        self._conn: Any = None  # the connection consuming, while it is usable
        self._drain: Any = None  # its drainer (reads one method, DRAIN_TIMEOUT at most)
        self._reading = False  # someone (a caller or this thread) is reading the connection
        self._parked: list[Parked] = []
        self._failure: BaseException | None = None

    def wait(self, waiter: Parked, timeout: float) -> None:
        """Return once ``waiter`` is done or after ``timeout`` seconds, reading the
        connection in this thread whenever no other thread reads it."""
        deadline = time.monotonic() + timeout
        with self._state:
            self._parked.append(waiter)
        try:
            while not waiter.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                conn = self._take_turn()
                if conn is None:
                    waiter.park(left)  # woken by its reply, or to take its turn
                    continue
                try:
                    self._read_until(*conn, waiter, deadline)
                finally:
                    self._end_turn(waiter)
        finally:
            with self._state:
                self._parked.remove(waiter)

    def _take_turn(self) -> tuple[Any, Any] | None:
        """The connection and its drainer, for this thread to read; None when another
        thread reads it or there is none."""
        with self._state:
            if self._reading or self._conn is None:
                return None
            self._reading = True
            return self._conn, self._drain

    def _end_turn(self, reader: Parked | None = None) -> None:
        """Give the connection up and wake one caller still waiting to read it."""
        with self._state:
            self._reading = False
            for waiter in self._parked:
                if waiter is not reader and not waiter.done:
                    waiter.wake()
                    break

    def _read_until(self, conn: Any, drain: Any, waiter: Parked, deadline: float) -> None:
        while not waiter.done:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                if left >= DRAIN_TIMEOUT:  # the socket's own read timeout (see _consume)
                    drain()
                else:
                    conn.drain_events(timeout=left)
            except TimeoutError:
                self._check_heartbeat(conn)
            except Exception as exc:  # the consumer's thread reconnects, or ends as it would
                self._lost(exc)
                return

    def _check_heartbeat(self, conn: Any) -> None:
        try:
            conn.heartbeat_check(rate=HEARTBEAT_RATE)
        except self._driver.connection_errors as exc:
            self._lost(exc)

    def _lost(self, exc: BaseException) -> None:
        """The connection failed under a caller: the consumer's thread raises ``exc`` as
        if it had read it itself (a lost broker: it reconnects)."""
        with self._state:
            self._conn = None
            self._failure = exc

    def _serve(self, conn: Any) -> None:
        with self._state:
            self._conn, self._drain, self._failure = conn, drainer(conn), None
        self._wake_all()  # callers parked while the connection was away: read again
        try:
            while not self._stopped.wait(DRAIN_TIMEOUT):
                if self._failure is not None:
                    raise self._failure
                if self._take_turn() is None:
                    continue
                try:
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=POLL)
                    conn.heartbeat_check(rate=HEARTBEAT_RATE)
                except self._driver.connection_errors as exc:
                    self._lost(exc)
                finally:
                    self._end_turn()
            while self._take_turn() is None and self._conn is not None:  # a caller reads
                time.sleep(POLL)
        finally:
            with self._state:
                self._conn = None

    def _wake_all(self) -> None:
        with self._state:
            for waiter in self._parked:
                waiter.wake()
