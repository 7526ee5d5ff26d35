"""RPCServer's handling of one delivery, driven directly: acks that fail, duplicates, and
messages that raise, without a broker in the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.messaging import RPCServer, Target, Transport, envelope, get_transport
from labcloud.messaging.driver import Delivery
from labcloud.messaging.workers import WorkerPool
from labcloud.trace import TraceBus


class Counter:
    def __init__(self) -> None:
        self.runs: list[Any] = []

    def record(self, ctxt: object, value: Any) -> None:
        self.runs.append(value)


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_transport("memory://", bus=TraceBus())
    yield t
    t.cleanup()


@pytest.fixture
def server(transport: Transport) -> Iterator[tuple[RPCServer, Counter]]:
    counter = Counter()
    srv = RPCServer(transport, Target("lab", "svc", server="h1"), [counter])
    srv.start()
    yield srv, counter
    srv.stop()
    srv.wait()


SETTLED: list[str] = []


def deliver(srv: RPCServer, body: bytes, ack: Any = None) -> Delivery:
    """Hand ``srv`` one delivery as its consumer would, and wait until its worker is done."""
    settled = SETTLED
    settled.clear()
    delivery = Delivery(
        body=body,
        exchange="lab",
        routing_key="svc",
        queue="svc",
        ack_fn=ack or (lambda: settled.append("ack")),
        reject_fn=lambda requeue: settled.append(f"reject requeue={requeue}"),
    )
    srv._on_delivery(delivery)
    srv.wait()  # the worker ran; a new pool for the next delivery
    srv._executor = WorkerPool(1, "test")
    return delivery


def test_a_copy_redelivered_after_a_failed_ack_still_runs(
    server: tuple[RPCServer, Counter],
) -> None:
    srv, counter = server
    body = envelope.pack(envelope.request("record", {"value": 1}, None))

    def lost() -> None:
        raise ConnectionResetError("the connection is gone")

    deliver(srv, body, ack=lost)
    assert counter.runs == []  # as oslo: an ack that fails means the broker will resend it
    deliver(srv, body)  # the broker's redelivery
    assert counter.runs == [1]
    deliver(srv, body)  # a copy of what already ran (its ack never reached the broker)
    assert counter.runs == [1]


def test_a_message_that_raises_anywhere_is_rejected_and_traced(
    server: tuple[RPCServer, Counter], monkeypatch: pytest.MonkeyPatch, transport: Transport
) -> None:
    srv, _ = server
    rejects = transport.bus.collect(where=lambda e: e.event == "reject")

    def explode(body: bytes | str) -> dict[str, Any]:
        raise KeyError("something nobody expected")

    monkeypatch.setattr("labcloud.messaging.server.envelope.unpack", explode)
    delivery = deliver(srv, b"{}")
    assert delivery.settled
    assert SETTLED == ["reject requeue=False"]  # not requeued: it would fail again
    event = rejects.wait_for(lambda e: True)
    assert "KeyError" in event.reason
