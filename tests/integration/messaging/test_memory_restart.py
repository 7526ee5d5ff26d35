"""Restarting the in-process broker (``memory://``), as ``rabbitmqctl stop_app; start_app``
restarts RabbitMQ: non-durable queues go with what they hold, consumers redeclare theirs,
and nothing is resent (as with oslo.messaging): a cast lost with its queue is lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.messaging import RPCClient, RPCServer, Target, Transport, get_transport
from labcloud.messaging.memory import MemoryDriver
from labcloud.trace import TraceBus
from tests.integration.messaging.conftest import Calculator
from tests.integration.messaging.test_rpc import Waiter


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_transport("memory://", bus=TraceBus())
    yield t
    t.cleanup()


def driver(t: Transport) -> MemoryDriver:
    assert isinstance(t.driver, MemoryDriver)
    return t.driver


def queues(t: Transport) -> dict[str, int]:
    return {q.name: q.messages for q in t.snapshot().queues}


def serve(t: Transport, endpoint: object, server: str = "host1") -> RPCServer:
    rpc = RPCServer(t, Target("lab", "worker", server=server), [endpoint], service="worker")
    rpc.start()
    return rpc


def test_servers_and_clients_work_again_after_a_restart(transport: Transport) -> None:
    server = serve(transport, Calculator())
    client = RPCClient(transport, Target("lab", "worker"), timeout=10)
    assert client.call({}, "add", a=1, b=1) == 2  # makes this process's reply queue
    before = set(queues(transport))
    report = driver(transport).broker.restart()
    assert set(report.queues_dropped) == before  # every queue: none is durable
    assert report.consumers_reconnected == 2  # the server's consumer and the reply listener
    assert set(queues(transport)) == before  # ... which declared theirs again
    assert client.call({}, "add", a=2, b=40) == 42
    server.stop()
    server.wait()


def test_a_confirmed_cast_waiting_in_a_queue_is_lost(transport: Transport) -> None:
    waiter = Waiter()
    server = serve(transport, waiter)
    server.stop()  # its queues stay, with no consumer
    server.wait()
    client = RPCClient(transport, Target("lab", "worker", server="host1"))
    client.cast({}, "record", value="lost")  # returned: the broker has it
    assert queues(transport)["worker.host1"] == 1
    report = driver(transport).broker.restart()
    assert "worker.host1" in report.queues_dropped
    assert report.messages_lost == 1
    assert "worker.host1" not in queues(transport)  # nobody declared it again
    server = serve(transport, waiter)  # declares an empty queue
    client.call({}, "record", value="barrier")  # after anything still on its way
    assert waiter.values == ["barrier"]  # the lost cast never comes back
    server.stop()
    server.wait()


def test_a_cast_run_before_a_restart_is_not_run_again(transport: Transport) -> None:
    waiter = Waiter()
    server = serve(transport, waiter)
    client = RPCClient(transport, Target("lab", "worker", server="host1"))
    client.cast({}, "record", value="before")
    assert waiter.wait_for(1) == ["before"]
    driver(transport).broker.restart()
    client.call({}, "record", value="barrier")
    assert waiter.values == ["before", "barrier"]
    server.stop()
    server.wait()


def test_a_message_delivered_but_not_acked_dies_with_the_restart(transport: Transport) -> None:
    """The server holds the message between delivery and ack when the broker restarts: its
    ack then fails (the channel is gone), so it discards the message, as oslo does."""
    waiter = Waiter()
    holding, release = threading.Event(), threading.Event()

    def hold(event: Any) -> None:
        if getattr(event, "event", "") == "deliver" and getattr(event, "method", "") == "record":
            holding.set()
            release.wait(10)

    transport.bus.add_gate(hold)
    rejects = transport.bus.collect(where=lambda e: e.event == "reject")
    server = serve(transport, waiter)
    client = RPCClient(transport, Target("lab", "worker", server="host1"), timeout=10)
    client.cast({}, "record", value="held")
    assert holding.wait(10)
    report = driver(transport).broker.restart()
    assert report.messages_lost == 1  # delivered, not acknowledged: gone with the channel
    release.set()
    event = rejects.wait_for(lambda e: True)
    assert event.reason.startswith("ack failed")
    client.call({}, "record", value="barrier")
    assert waiter.values == ["barrier"]
    server.stop()
    server.wait()


def test_a_call_being_answered_during_a_restart_gets_its_reply(transport: Transport) -> None:
    started, release = threading.Event(), threading.Event()

    class Slow:
        def work(self, ctxt: object) -> str:
            started.set()
            release.wait(10)
            return "done"

    server = serve(transport, Slow())
    client = RPCClient(transport, Target("lab", "worker"), timeout=10)
    result: list[Any] = []
    caller = threading.Thread(target=lambda: result.append(client.call({}, "work")))
    caller.start()
    assert started.wait(10)
    report = driver(transport).broker.restart()
    assert report.messages_lost == 0  # RPCServer acknowledges on receipt, as oslo does
    release.set()
    caller.join(15)
    assert result == ["done"]  # the reply queue came back before the reply was sent
    server.stop()
    server.wait()
