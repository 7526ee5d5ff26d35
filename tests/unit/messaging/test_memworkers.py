"""memory://: an RPC server's workers receive its messages themselves, in delivery order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.messaging import RPCClient, RPCServer, Target, Transport, get_transport
from labcloud.messaging.memory import MemoryDriver
from labcloud.messaging.workers import WorkerPool
from labcloud.trace import TraceBus
from labcloud.trace.events import MessageEvent


class Holder:
    """An endpoint whose ``hold`` waits for ``release``; ``where`` names the thread."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran: list[int] = []
        self.threads: list[str] = []
        self.started = threading.Semaphore(0)

    def hold(self, ctxt: object, n: int) -> None:
        self.started.release()
        self.release.wait(5)
        self.ran.append(n)

    def where(self, ctxt: object) -> str:
        return threading.current_thread().name


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_transport("memory://", bus=TraceBus())
    yield t
    t.cleanup()


def serve(transport: Transport, endpoint: object, workers: int) -> RPCServer:
    server = RPCServer(transport, Target("lab", "svc", server="h1"), [endpoint], workers=workers)
    server.start()
    return server


def test_the_worker_that_acks_a_message_runs_its_method(transport: Transport) -> None:
    acks = transport.bus.collect(types=(MessageEvent,), where=lambda e: e.event == "ack")
    threads: list[str] = []
    transport.bus.subscribe(
        lambda e: threads.append(threading.current_thread().name),
        types=(MessageEvent,),
        where=lambda e: e.event == "ack" and e.kind == "call",
    )
    server = serve(transport, Holder(), workers=4)
    ran_in = RPCClient(transport, Target("lab", "svc", server="h1")).call(None, "where")
    acks.wait_for(lambda e: e.kind == "call")
    assert threads == [ran_in]  # received and run by one worker, no consumer thread between
    assert ran_in.startswith("svc_")
    assert not any(t.name.startswith("memory-consumer-svc") for t in threading.enumerate())
    server.stop()
    server.wait()


def test_messages_are_received_in_delivery_order_while_workers_are_busy(
    transport: Transport,
) -> None:
    delivered = transport.bus.collect(types=(MessageEvent,), where=lambda e: e.event == "ack")
    holder = Holder()
    server = serve(transport, holder, workers=3)
    client = RPCClient(transport, Target("lab", "svc", server="h1"))
    for n in range(12):
        client.cast(None, "hold", n=n)
    assert holder.started.acquire(timeout=5)  # the first is running; the rest wait
    holder.release.set()
    delivered.wait_for(lambda e: len(delivered) == 12 or e.args == {"n": 11})
    server.stop()
    server.wait()
    assert [e.args["n"] for e in delivered] == list(range(12))
    assert sorted(holder.ran) == list(range(12))


def test_a_message_pushed_before_the_server_stopped_is_still_run(transport: Transport) -> None:
    """As a consumer thread hands on what it took: stop() takes nothing more, wait() waits
    for what was pushed (acked by the worker that receives it), and the queue keeps the rest."""
    holder = Holder()
    server = serve(transport, holder, workers=1)
    client = RPCClient(transport, Target("lab", "svc", server="h1"))
    client.cast(None, "hold", n=0)
    assert holder.started.acquire(timeout=5)  # the only worker is busy with 0
    client.cast(None, "hold", n=1)  # pushed to the consumer, waiting for the worker
    server.stop()
    client.cast(None, "hold", n=2)  # after stop: stays in the queue
    holder.release.set()
    server.wait()
    assert holder.ran == [0, 1]
    assert isinstance(transport.driver, MemoryDriver)
    queue = transport.driver.snapshot().queue("svc.h1")
    assert queue is not None
    assert (queue.messages, queue.unacked) == (1, 0)


def test_work_submitted_while_receiving_runs_next_in_the_same_worker() -> None:
    pool = WorkerPool(2, "svc")
    ran: list[tuple[str, Any]] = []

    def job(what: str) -> None:
        ran.append((what, threading.current_thread().name))

    def receive() -> None:
        pool.submit(job, "method")
        ran.append(("received", threading.current_thread().name))

    assert pool.take(receive)
    pool.shutdown()
    assert [what for what, _ in ran] == ["received", "method"]
    assert ran[0][1] == ran[1][1]
    assert not pool.take(receive)  # after shutdown: not taken, and not raised to the broker
