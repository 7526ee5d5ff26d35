"""The RPC server's worker pool: threads started as work comes, never more than its size."""

from __future__ import annotations

import threading

import pytest

from labcloud.messaging.workers import WorkerPool


def test_work_runs_on_at_most_size_threads_and_shutdown_waits_for_it() -> None:
    pool = WorkerPool(2, "svc")
    gate, ran, names = threading.Event(), [], set()

    def work(n: int) -> None:
        gate.wait(5)
        ran.append(n)
        names.add(threading.current_thread().name)

    for n in range(6):
        pool.submit(work, n)
    gate.set()
    pool.shutdown()
    assert sorted(ran) == list(range(6))
    assert names <= {"svc_0", "svc_1"}
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(work, 7)


def test_work_that_raises_is_logged_and_the_thread_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = WorkerPool(1, "svc")
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("a bug")

    pool.submit(fail)
    pool.submit(ran.append, 1)
    pool.shutdown()
    assert ran == [1]
    assert "a worker failed outside its method" in caplog.text
