"""One contract, every driver: the in-process broker and RabbitMQ answer alike."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from labcloud.messaging.driver import Delivery, Driver
from labcloud.messaging.exceptions import MessageUndeliverable, PreconditionFailed
from labcloud.messaging.topology import ExchangeSpec, QueueSpec, Subscription


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.rabbitmq)])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    if request.param == "memory":
        from labcloud.messaging.memory import MemoryDriver

        d: Driver = MemoryDriver()
    else:
        from labcloud.messaging.amqp import AmqpDriver

        d = AmqpDriver(request.getfixturevalue("rabbitmq_url"), publish_timeout=5)
    yield d
    d.close()


@pytest.fixture
def name() -> Iterator[str]:
    return f"contract-{uuid.uuid4().hex[:10]}"


class Inbox:
    def __init__(self) -> None:
        self.got: list[Delivery] = []
        self.cond = threading.Condition()

    def __call__(self, d: Delivery) -> None:
        d.ack()
        with self.cond:
            self.got.append(d)
            self.cond.notify_all()

    def wait(self, n: int) -> list[bytes]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, 10)
            return [d.body for d in self.got]


def cleanup(driver: Driver, queues: list[str], exchanges: list[str]) -> None:
    from labcloud.messaging.amqp import AmqpDriver

    if isinstance(driver, AmqpDriver):
        import kombu

        with kombu.Connection(driver.url) as conn:
            ch = conn.channel()
            for q in queues:
                ch.queue_delete(q)
            for e in exchanges:
                ch.exchange_delete(e)


@pytest.mark.parametrize(
    ("kind", "key", "pattern", "routed"),
    [
        ("direct", "a", "a", True),
        ("direct", "b", "a", False),
        ("topic", "compute", "compute.#", True),
        ("topic", "compute.n1", "*.n1", True),
        ("topic", "compute", "compute.*", False),
        ("fanout", "anything", "", True),
    ],
)
def test_routing(
    driver: Driver, name: str, kind: str, key: str, pattern: str, routed: bool
) -> None:
    ex = ExchangeSpec(name, kind)
    driver.declare([Subscription(QueueSpec(name), [(ex, pattern)])])
    try:
        if routed:
            driver.publish(ex, key, b"m", mandatory=True)
            assert driver.snapshot().queue(name).messages == 1  # type: ignore[union-attr]
        else:
            with pytest.raises(MessageUndeliverable):
                driver.publish(ex, key, b"m", mandatory=True)
    finally:
        cleanup(driver, [name], [name])


def test_default_exchange_consume_and_ack(driver: Driver, name: str) -> None:
    inbox = Inbox()
    consumer = driver.consume([Subscription(QueueSpec(name))], inbox)
    try:
        for i in range(3):
            driver.publish(ExchangeSpec("", "direct"), name, str(i).encode(), mandatory=True)
        assert inbox.wait(3) == [b"0", b"1", b"2"]
        consumer.stop()
        consumer.stop()  # safe twice
        queue = driver.snapshot().queue(name)
        assert queue is not None
        assert queue.messages == 0
    finally:
        cleanup(driver, [name], [])


def test_mismatched_redeclare_fails(driver: Driver, name: str) -> None:
    driver.declare([Subscription(QueueSpec(name))])
    try:
        with pytest.raises(PreconditionFailed):
            driver.consume([Subscription(QueueSpec(name, arguments={"x-expires": 1000}))], Inbox())
    finally:
        cleanup(driver, [name], [])


def test_close_is_idempotent(driver: Driver) -> None:
    driver.close()
    driver.close()
