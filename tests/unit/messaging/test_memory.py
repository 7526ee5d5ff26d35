"""The in-process broker behaves as RabbitMQ does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from labcloud.messaging.driver import Delivery
from labcloud.messaging.exceptions import (
    ExchangeNotFound,
    MessageUndeliverable,
    PreconditionFailed,
)
from labcloud.messaging.memory import MemoryBroker, MemoryDriver
from labcloud.messaging.routing import topic_matches
from labcloud.messaging.topology import ExchangeSpec, QueueSpec, Subscription


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("compute", "compute", True),
        ("compute.#", "compute", True),
        ("compute.#", "compute.node1.x", True),
        ("compute.*", "compute", False),
        ("compute.*", "compute.node1", True),
        ("*.node1", "compute.node1", True),
        ("#.b", "b", True),
        ("#.b", "a.b.c", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.*.#", "a", False),
        ("a.*.#", "a.x.y", True),
        ("#", "", True),
        ("#", "a.b.c", True),
        ("*", "a.b", False),
        ("a.b", "a.b.c", False),
    ],
)
def test_topic_matching_is_rabbitmqs(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


class Inbox:
    def __init__(self, ack: bool = True) -> None:
        self.got: list[Delivery] = []
        self.cond = threading.Condition()
        self.ack = ack

    def __call__(self, d: Delivery) -> None:
        if self.ack:
            d.ack()
        with self.cond:
            self.got.append(d)
            self.cond.notify_all()

    def wait(self, n: int) -> list[Delivery]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, 5), self.got
            return list(self.got)


@pytest.fixture
def driver() -> Iterator[MemoryDriver]:
    d = MemoryDriver()
    yield d
    d.close()


def sub(
    queue: str, exchange: str = "ex", key: str = "k", kind: str = "topic", **flags: object
) -> Subscription:
    return Subscription(QueueSpec(queue, **flags), [(ExchangeSpec(exchange, kind), key)])  # type: ignore[arg-type]


def test_two_brokers_never_share_queues() -> None:
    a, b = MemoryDriver(), MemoryDriver()
    a.declare([sub("q")])
    assert a.snapshot().queue("q") is not None
    assert b.snapshot().queue("q") is None
    with pytest.raises(MessageUndeliverable):
        b.publish(ExchangeSpec("ex"), "k", b"x", mandatory=True)


def test_two_drivers_on_one_broker_share_queues() -> None:
    broker = MemoryBroker()
    one, two = MemoryDriver(broker), MemoryDriver(broker)
    inbox = Inbox()
    one.consume([sub("q")], inbox)
    two.publish(ExchangeSpec("ex"), "k", b"hello")
    assert inbox.wait(1)[0].body == b"hello"
    one.close()


def test_redeclare_with_other_flags_is_refused(driver: MemoryDriver) -> None:
    driver.declare([sub("q")])
    with pytest.raises(PreconditionFailed):
        driver.declare([Subscription(QueueSpec("q", durable=True))])
    with pytest.raises(PreconditionFailed):
        driver.publish(ExchangeSpec("ex", "fanout"), "k", b"x")
    driver.declare([sub("q")])  # the same again is fine


def test_default_exchange_and_missing_exchange(driver: MemoryDriver) -> None:
    driver.declare([Subscription(QueueSpec("direct-q"))])
    driver.publish(ExchangeSpec("", "direct"), "direct-q", b"x", mandatory=True)
    assert driver.snapshot().queue("direct-q").messages == 1  # type: ignore[union-attr]
    with pytest.raises(ExchangeNotFound):
        driver.broker.publish("never-declared", "k", b"x")


def test_round_robin_and_prefetch_credit(driver: MemoryDriver) -> None:
    slow = Inbox(ack=False)
    fast = Inbox()
    driver.consume([sub("q")], slow, prefetch=2, name="slow")
    driver.consume([sub("q")], fast, prefetch=100, name="fast")
    for i in range(10):
        driver.publish(ExchangeSpec("ex"), "k", str(i).encode())
    assert len(fast.wait(8)) == 8
    assert len(slow.wait(2)) == 2  # its credit ran out at two unacked messages
    snap = driver.snapshot().queue("q")
    assert snap is not None
    assert snap.unacked == 2
    assert snap.consumers == 2


def test_reject_with_requeue_redelivers(driver: MemoryDriver) -> None:
    seen: list[tuple[bytes, bool]] = []
    done = threading.Event()

    def once_rejected(d: Delivery) -> None:
        seen.append((d.body, d.redelivered))
        if not d.redelivered:
            d.reject(requeue=True)
        else:
            d.ack()
            done.set()

    driver.consume([sub("q")], once_rejected)
    driver.publish(ExchangeSpec("ex"), "k", b"m")
    assert done.wait(5)
    assert seen == [(b"m", False), (b"m", True)]


def test_stopping_a_consumer_requeues_its_unacked(driver: MemoryDriver) -> None:
    holder = Inbox(ack=False)
    consumer = driver.consume([sub("q")], holder)
    driver.publish(ExchangeSpec("ex"), "k", b"m")
    holder.wait(1)
    consumer.stop()
    assert driver.snapshot().queue("q").messages == 1  # type: ignore[union-attr]
    again = Inbox()
    driver.consume([sub("q")], again)
    assert again.wait(1)[0].redelivered


def test_auto_delete_queue_and_exchange(driver: MemoryDriver) -> None:
    consumer = driver.consume(
        [
            Subscription(
                QueueSpec("tmp", auto_delete=True),
                [(ExchangeSpec("fx", "fanout", auto_delete=True), "")],
            )
        ],
        Inbox(),
    )
    assert driver.snapshot().exchange("fx") is not None
    consumer.stop()
    snap = driver.snapshot()
    assert snap.queue("tmp") is None
    assert snap.exchange("fx") is None


def test_x_expires_and_message_expiration(driver: MemoryDriver) -> None:
    driver.declare([Subscription(QueueSpec("short", arguments={"x-expires": 50}))])
    assert driver.snapshot().queue("short") is not None
    time.sleep(0.1)  # the broker's clock has to pass the expiry; there is no event for it
    assert driver.snapshot().queue("short") is None
    driver.declare([sub("q")])
    driver.publish(ExchangeSpec("ex"), "k", b"stale", properties={"expiration": 0.01})
    driver.publish(ExchangeSpec("ex"), "k", b"fresh")
    time.sleep(0.05)
    inbox = Inbox()
    driver.consume([sub("q")], inbox)
    assert [d.body for d in inbox.wait(1)] == [b"fresh"]


def test_snapshot_lists_bindings_like_rabbitmq(driver: MemoryDriver) -> None:
    driver.declare([sub("q", key="compute.#")])
    snap = driver.snapshot()
    assert snap.source == "memory"
    assert {(b.exchange, b.routing_key, b.queue) for b in snap.bindings} >= {
        ("", "q", "q"),
        ("ex", "compute.#", "q"),
    }
    assert snap.exchange("") is not None
    assert snap.exchange("amq.topic") is not None


def test_an_idle_consumer_uses_no_cpu(driver: MemoryDriver) -> None:
    driver.consume([sub("q")], Inbox())
    start = time.process_time()
    time.sleep(0.5)  # measuring idleness: nothing happens, by design
    assert time.process_time() - start < 0.05


def test_a_reply_queue_read_by_callers_is_read_without_them_and_idles(
    driver: MemoryDriver,
) -> None:
    """A reply queue's consumer (read by callers): what comes while no caller waits is
    read by its own thread, which then sleeps."""
    inbox = Inbox()
    consumer = driver.consume([sub("reply_q")], inbox, read_by_callers=True)
    driver.publish(ExchangeSpec("", "direct", durable=True), "reply_q", b"late")
    assert [d.body for d in inbox.wait(1)] == [b"late"]
    start = time.process_time()
    time.sleep(0.3)  # measuring idleness: nothing happens, by design
    assert time.process_time() - start < 0.05
    consumer.stop()
    assert not consumer.thread.is_alive()  # type: ignore[attr-defined]


def test_a_short_lived_queue_declared_after_long_lived_ones_still_expires(
    driver: MemoryDriver,
) -> None:
    driver.declare([Subscription(QueueSpec("long", arguments={"x-expires": 1_800_000}))])
    assert driver.snapshot().queue("long") is not None  # looked at: the next expiry is far
    driver.declare([Subscription(QueueSpec("short", arguments={"x-expires": 50}))])
    time.sleep(0.1)  # the broker's clock has to pass the expiry; there is no event for it
    snap = driver.snapshot()
    assert snap.queue("short") is None
    assert snap.queue("long") is not None


def test_declarations_do_not_look_through_every_queue(
    driver: MemoryDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing due to expire, declaring a queue costs the same with 1 or 1,500 queues
    (a cloud of 100 hosts declares that many as it starts)."""
    from labcloud.messaging import memory

    ttl = {"x-expires": 1_800_000}
    driver.declare([Subscription(QueueSpec(f"q{i}", arguments=ttl)) for i in range(200)])
    looked: list[object] = []

    def ttl_of(queue: object) -> float:
        looked.append(queue)
        return 1800.0

    monkeypatch.setattr(memory, "_ttl", ttl_of)
    driver.declare([Subscription(QueueSpec(f"more{i}", arguments=ttl)) for i in range(50)])
    assert len(looked) <= 50  # each new queue's own expiry, not 200 x 50 looks


def test_a_consumer_out_of_credit_gets_what_waited_in_each_of_its_queues_as_it_acks(
    driver: MemoryDriver,
) -> None:
    """An ack fills a consumer that was out of credit from all its queues; an ack with
    credit to spare finds nothing waiting (every message went straight to it)."""
    holder = Inbox(ack=False)
    driver.consume([sub("q1", key="k1"), sub("q2", key="k2")], holder, prefetch=2, name="h")
    for key, body in (("k1", b"a"), ("k1", b"b"), ("k2", b"c"), ("k1", b"d"), ("k2", b"e")):
        driver.publish(ExchangeSpec("ex", "topic"), key, body)
    assert [d.body for d in holder.wait(2)] == [b"a", b"b"]
    assert driver.snapshot().queue("q1").messages == 1  # type: ignore[union-attr]
    assert driver.snapshot().queue("q2").messages == 2  # type: ignore[union-attr]
    for n in range(3, 6):
        holder.got[n - 3].ack()  # out of credit before each ack: one more comes
        assert len(holder.wait(n)) == n
    assert sorted(d.body for d in holder.got) == [b"a", b"b", b"c", b"d", b"e"]
    for d in holder.got[3:]:
        d.ack()  # with credit to spare: nothing waits, nothing more comes
    assert [q.messages for q in driver.snapshot().queues if q.name in ("q1", "q2")] == [0, 0]
    assert all(q.unacked == 0 for q in driver.snapshot().queues if q.name in ("q1", "q2"))
