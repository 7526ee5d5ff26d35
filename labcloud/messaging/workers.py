"""The RPC server's worker threads: oslo.messaging's threading executor, without futures.

Up to ``size`` threads, each started when work arrives and no thread is idle, then kept;
they take work from one queue, in order. Nobody waits for a message's method (a call's
result goes back as a reply), so no Future is made per message, and no lock is taken but
the one that counts idle threads. Threads are daemons, as futurist's (oslo's executor):
a process that exits does not wait for a method that never ends.
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

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot take work after shutdown")
            thread = None
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        self._work.put((fn, args))
        if thread is not None:
            thread.start()

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

    def _run(self) -> None:
        get, lock = self._work.get, self._lock
        while (work := get()) is not None:
            fn, args = work
            try:
                fn(*args)
            except Exception:  # the function reports its own errors: this is a bug in it
                LOG.exception("%s: a worker failed outside its method", self.name)
            del work, fn, args  # not kept alive while this thread waits
            with lock:
                self._idle += 1
