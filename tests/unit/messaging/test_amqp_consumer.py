"""The RabbitMQ consumer's read loop, on a fake kombu connection (no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from labcloud.messaging.amqp import AmqpDriver
from labcloud.messaging.amqpconsumer import AmqpConsumer


class _Gone(ConnectionError):
    pass


class _FakeConnection:
    """kombu's Connection as the consumer reads it: frames in, heartbeat checks counted."""

    def __init__(self, consumer: AmqpConsumer, frames: list[str]) -> None:
        self.frames = frames
        self.checks = 0
        self.methods = 0
        self.connection = self  # py-amqp's connection under kombu's
        self.transport = self  # and its transport
        self._consumer = consumer

    def read_frame(self) -> str:
        if not self.frames:
            self._consumer.stop()
            raise TimeoutError
        return self.frames.pop(0)

    def on_inbound_frame(self, frame: str) -> bool:
        """True once a whole method came in (a delivery is method, header and body)."""
        if frame == "body":
            self.methods += 1
        return frame == "body"

    def heartbeat_check(self, rate: int = 2) -> None:
        self.checks += 1
        if self.frames and self.frames[0] == "silent":
            raise _Gone("Too many heartbeats missed")


def _consumer() -> AmqpConsumer:
    driver = AmqpDriver("amqp://guest:guest@127.0.0.1:1//")  # never connected
    return AmqpConsumer(driver, [], lambda delivery: None, prefetch=1, name="t")


def test_a_busy_consumer_checks_heartbeats_by_time_not_per_delivery() -> None:
    consumer = _consumer()
    conn = _FakeConnection(consumer, ["method", "header", "body"] * 1000)
    consumer._serve(conn)
    assert conn.methods == 1000
    assert conn.checks <= 5  # a few (at most one per DRAIN_TIMEOUT, and the idle read's)


def test_an_idle_consumer_checks_heartbeats_after_each_empty_read() -> None:
    consumer = _consumer()
    conn = _FakeConnection(consumer, ["silent"])
    conn.read_frame = lambda: (_ for _ in ()).throw(TimeoutError)  # type: ignore[method-assign]
    with pytest.raises(_Gone):
        consumer._serve(conn)
    assert conn.checks == 1


def test_frames_are_read_into_the_frame_handler_until_a_method_is_whole() -> None:
    consumer = _consumer()
    seen: list[Any] = []
    conn = _FakeConnection(consumer, ["method", "header", "body", "method"])
    handler = conn.on_inbound_frame
    conn.on_inbound_frame = lambda f: seen.append(f) or handler(f)  # type: ignore[method-assign]
    consumer._serve(conn)
    assert seen == ["method", "header", "body", "method"]
    assert conn.methods == 1
