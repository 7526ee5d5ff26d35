"""The RPC server's worker threads: oslo.messaging's threading executor, without futures.

Up to ``size`` threads, each started when work arrives and no thread is idle, then kept;
they take work from one queue, in order. Nobody waits for a message's method (a call's
result goes back as a reply), so no Future is made per message, and no lock is taken but
the one that counts idle threads. Threads are daemons, as futurist's (oslo's executor):
a process that exits does not wait for a method that never ends.

A driver may have the workers receive messages themselves (``take``, memory://): the worker
that receives a message runs its method next, so one thread is woken per message, not a
consumer thread and then a worker (each wake-up costs ~20 us of CPU on the CI machine).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)
Work = tuple[Callable[..., None], tuple[Any, ...]]


class WorkerPool:
    """``submit(fn, *args)`` runs ``fn(*args)`` on one of at most ``size`` threads."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self.size = size
        self.name = name
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads done with their work and not yet handed more
        self._closed = False
        self._taking = threading.local()  # .kept: what a receiving worker submitted

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        kept: list[Work] | None = getattr(self._taking, "kept", None)
        if kept is not None:  # submitted while receiving a message: run next in this thread
            kept.append((fn, args))
            return
        if not self._put((fn, args)):
            raise RuntimeError(f"{self.name}: cannot take work after shutdown")

    def take(self, receive: Callable[[], None]) -> bool:
        """Have a worker run ``receive()`` (a driver handing it one message), then, in the
        same thread, the work ``receive`` submitted. False after shutdown (not run)."""
        return self._put((self._receive, (receive,)))

    def _put(self, work: Work) -> bool:
        with self._lock:
            if self._closed:
                return False
            thread = None
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        self._work.put(work)
        if thread is not None:
            thread.start()
        return True

    def shutdown(self) -> None:
        """Take no more work; return once the work already taken is done."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._work.put(None)  # after the work queued before it
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    def _receive(self, receive: Callable[[], None]) -> None:
        taking = self._taking
        kept: list[Work] = []
        taking.kept = kept
        try:
            receive()
        finally:
            taking.kept = None
        for fn, args in kept:
            self._call(fn, args)

    def _call(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception:  # the function reports its own errors: this is a bug in it
            LOG.exception("%s: a worker failed outside its method", self.name)

    def _run(self) -> None:
        get, lock, call = self._work.get, self._lock, self._call
        while (work := get()) is not None:
            call(*work)
            del work  # not kept alive while this thread waits
            with lock:
                self._idle += 1
