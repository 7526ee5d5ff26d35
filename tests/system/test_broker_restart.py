"""RabbitMQ goes away in the middle of a stream of casts and calls, and comes back; or
stops answering altogether.

Servers and clients reconnect by themselves; no cast runs twice (nothing is resent); every
call ends with its result, a MessagingTimeout or a delivery failure, never a hang;
afterwards everything works again. Casts still waiting in a queue when the broker stops
are lost with it, as in OpenStack: oslo.messaging's queues are not durable and nothing
resends a cast the broker had confirmed. A broker that freezes makes a cast fail after
its timeout, not hang.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
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
        self.runs: list[int] = []  # every run, so a cast that ran twice shows
        self.cond = threading.Condition()

    @property
    def received(self) -> set[int]:
        return set(self.runs)

    def record(self, ctxt: Any, value: int) -> None:
        with self.cond:
            self.runs.append(value)
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
        marker = stream.cast_ok[-1]  # sent after the broker came back: arrives
        with service.cond:
            assert service.cond.wait_for(lambda: marker in service.received, timeout=30)
        twice = sorted(v for v, n in Counter(service.runs).items() if n > 1)
        assert twice == [], f"{len(twice)} casts ran twice: {twice[:20]}"
        lost = sorted(set(stream.cast_ok) - service.received)
        # what sat in the queue when the broker stopped is gone (nothing resends it)
        print(f"{len(stream.cast_ok)} casts confirmed, {len(lost)} lost with the broker")
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
def test_casts_waiting_in_a_queue_are_lost_with_a_restart(
    rabbitmq_url: str, fault: Callable[[], None]
) -> None:
    """Confirmed casts still queued when the broker stops die with its non-durable queue,
    as they do under oslo.messaging: nothing resends them (nova's periodic tasks notice)."""
    broker.require_broker_control()
    exchange = f"lost-{uuid.uuid4().hex[:8]}"
    server_transport, client_transport = get_transport(rabbitmq_url), get_transport(rabbitmq_url)
    service = Service()
    target = Target(exchange=exchange, topic="svc", server="h1")
    client = RPCClient(client_transport, Target(exchange=exchange, topic="svc"), timeout=30)
    try:
        with RPCServer(server_transport, target, [service]):
            assert client.call({}, "echo", value=-1) == -1  # the client now consumes replies
        for i in range(10):
            client.cast({}, "record", value=i)  # confirmed: they wait in queue "svc"
        fault()
        with RPCServer(server_transport, target, [service]):
            # a call on the same queue, after anything that could still arrive
            assert _call_when_back(client) == 7
            assert service.runs == [], f"casts came back from a dead queue: {service.runs}"
    finally:
        client_transport.cleanup()
        server_transport.cleanup()


def _call_when_back(client: RPCClient, timeout: float = 60) -> Any:
    """The first call that goes through once the broker is back (publishers reconnect)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.prepare(timeout=5).call({}, "echo", value=7)
        except MessagingError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.parametrize("warm", [True, False], ids=["pooled-connection", "new-connection"])
def test_a_cast_to_a_frozen_broker_fails_after_its_timeout(rabbitmq_url: str, warm: bool) -> None:
    """SIGSTOP on the node: sockets stay open, nothing answers. The cast's timeout bounds
    every wait (connect, declare, the confirm); before, a 5 s cast blocked 25 s."""
    broker.require_broker_control()
    transport = get_transport(rabbitmq_url)
    client = RPCClient(transport, Target(exchange=f"frozen-{uuid.uuid4().hex[:8]}", topic="svc"))
    try:
        if warm:
            client.prepare(fanout=True).cast({}, "record", value=0)  # a pooled publisher
        with broker.frozen():
            start = time.monotonic()
            with pytest.raises(MessageDeliveryFailure):
                client.prepare(timeout=2, fanout=True).cast({}, "record", value=1)
            took = time.monotonic() - start
        assert took < 3.5, f"a 2 s cast took {took:.1f} s on a frozen broker"
        print(f"a 2 s cast failed after {took:.2f} s on a frozen broker")
    finally:
        transport.cleanup()
