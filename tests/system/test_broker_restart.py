"""RabbitMQ goes away in the middle of a stream of casts and calls, and comes back.

Servers and clients reconnect by themselves; every cast either reached the server or its
caller got an exception (none silently lost); every call ended with its result, a
MessagingTimeout or a delivery failure, never a hang; afterwards everything works again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from labcloud.messaging import (
    MessageDeliveryFailure,
    MessagingError,
    MessagingTimeout,
    RPCClient,
    RPCServer,
    Target,
    get_transport,
)
from tests.system import broker

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]
CAST_PACE = 0.002  # a service-like stream of ~500 casts/s, not a flood


class Service:
    def __init__(self) -> None:
        self.received: set[int] = set()
        self.cond = threading.Condition()

    def record(self, ctxt: Any, value: int) -> None:
        with self.cond:
            self.received.add(value)
            self.cond.notify_all()

    def echo(self, ctxt: Any, value: int) -> int:
        return value


class Stream:
    """Casts and calls from two threads until stopped, remembering every outcome."""

    def __init__(self, client: RPCClient) -> None:
        self.client = client
        self.stop = threading.Event()
        self.cast_ok: list[int] = []
        self.cast_failed: list[tuple[int, str]] = []
        self.calls: list[str] = []
        self.progress = threading.Condition()
        self.threads = [threading.Thread(target=f) for f in (self._casts, self._calls)]

    def _casts(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                self.client.cast({}, "record", value=i)
                with self.progress:
                    self.cast_ok.append(i)
                    self.progress.notify_all()
            except MessagingError as exc:
                self.cast_failed.append((i, type(exc).__name__))
            i += 1
            self.stop.wait(CAST_PACE)

    def _calls(self) -> None:
        j = 0
        while not self.stop.is_set():
            try:
                assert self.client.prepare(timeout=5).call({}, "echo", value=j) == j
                outcome = "ok"
            except MessagingTimeout:
                outcome = "timeout"
            except MessageDeliveryFailure:
                outcome = "delivery-failure"
            with self.progress:
                self.calls.append(outcome)
                self.progress.notify_all()
            j += 1

    def wait_for_a_good_call(self, after: int, timeout: float = 60) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: "ok" in self.calls[after:], timeout), (
                f"no call succeeded after the fault: {self.calls[after:]}"
            )

    def wait_for_more_casts(self, n: int, timeout: float = 90) -> None:
        with self.progress:
            target = len(self.cast_ok) + n
            assert self.progress.wait_for(lambda: len(self.cast_ok) >= target, timeout), (
                f"casts stalled at {len(self.cast_ok)}; failures: {self.cast_failed[-3:]}"
            )


@pytest.mark.parametrize(
    "fault", [broker.restart_app, broker.kill_and_start], ids=["stop_app-start_app", "kill-9"]
)
def test_stream_survives_a_broker_restart(rabbitmq_url: str, fault: Callable[[], None]) -> None:
    broker.require_broker_control()
    exchange = f"restart-{uuid.uuid4().hex[:8]}"
    server_transport, client_transport = get_transport(rabbitmq_url), get_transport(rabbitmq_url)
    service = Service()
    server = RPCServer(
        server_transport, Target(exchange=exchange, topic="svc", server="h1"), [service]
    )
    server.start()
    stream = Stream(RPCClient(client_transport, Target(exchange=exchange, topic="svc"), timeout=30))
    try:
        for t in stream.threads:
            t.start()
        stream.wait_for_more_casts(200)
        fault()
        stream.wait_for_more_casts(200)  # the stream recovered by itself
        calls_after_fault = len(stream.calls)
        stream.wait_for_a_good_call(calls_after_fault)  # calls recovered too
        stream.wait_for_more_casts(50)
        stream.stop.set()
        for t in stream.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in stream.threads), "a call or cast hung"
        with service.cond:
            delivered = service.cond.wait_for(
                lambda: set(stream.cast_ok) <= service.received, timeout=30
            )
        lost = sorted(set(stream.cast_ok) - service.received)
        assert delivered, f"{len(lost)} casts returned OK but never arrived: {lost[:20]}"
        assert set(stream.calls) <= {"ok", "timeout", "delivery-failure"}
        assert (
            RPCClient(client_transport, Target(exchange=exchange, topic="svc")).call(
                {}, "echo", value=7
            )
            == 7
        )
    finally:
        stream.stop.set()
        server.stop()
        server.wait()
        server_transport.cleanup()
        client_transport.cleanup()


@pytest.mark.parametrize(
    "fault", [broker.restart_app, broker.kill_and_start], ids=["stop_app-start_app", "kill-9"]
)
def test_casts_waiting_in_a_queue_are_resent_after_a_restart(
    rabbitmq_url: str, fault: Callable[[], None]
) -> None:
    """Confirmed casts still queued when the broker stops die with its non-durable queue.

    The client's driver notices the broker going away and resends them once it is back.
    """
    broker.require_broker_control()
    exchange = f"resend-{uuid.uuid4().hex[:8]}"
    server_transport, client_transport = get_transport(rabbitmq_url), get_transport(rabbitmq_url)
    service = Service()
    target = Target(exchange=exchange, topic="svc", server="h1")
    client = RPCClient(client_transport, Target(exchange=exchange, topic="svc"), timeout=30)
    try:
        with RPCServer(server_transport, target, [service]):
            assert client.call({}, "echo", value=-1) == -1  # the client now consumes replies
        for i in range(10):
            client.cast({}, "record", value=i)  # nobody consumes: they wait in queue "svc"
        fault()
        with RPCServer(server_transport, target, [service]):
            with service.cond:
                arrived = service.cond.wait_for(
                    lambda: set(range(10)) <= service.received, timeout=60
                )
            assert arrived, f"lost: {sorted(set(range(10)) - service.received)}"
    finally:
        client_transport.cleanup()
        server_transport.cleanup()
