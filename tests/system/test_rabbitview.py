"""A RabbitMQ snapshot is right at once, although the management API lags by seconds."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import amqp
import amqp.exceptions
import pytest

from labcloud.messaging.brokerview import BrokerSnapshot
from labcloud.messaging.exceptions import MessagingError
from labcloud.messaging.rabbitview import current_counts, management_url_for, rabbitmq_snapshot
from labcloud.notebook.publisher import Publisher
from labcloud.notebook.remote import RemoteCloud
from labcloud.trace.bus import TraceBus
from tests.conftest import require
from tests.system.broker import RabbitNode

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def channel(rabbit: RabbitNode) -> Iterator[amqp.Channel]:
    with amqp.Connection(f"{rabbit.host}:{rabbit.port}") as conn:
        conn.connect()
        yield conn.channel()


def test_depths_and_consumers_are_current(
    rabbit: RabbitNode, rabbitmq_url: str, channel: amqp.Channel
) -> None:
    def snapshot() -> BrokerSnapshot:
        return rabbitmq_snapshot(rabbitmq_url, management_url=rabbit.management_url)

    name = f"view-{uuid.uuid4().hex[:8]}"
    channel.exchange_declare(name, "topic", durable=False, auto_delete=False)
    channel.queue_declare(name, durable=False, auto_delete=False)
    channel.queue_bind(name, name, "compute.#")
    try:
        for i in range(5):
            channel.basic_publish(amqp.Message(str(i)), exchange=name, routing_key="compute.x")
        snap = snapshot()
        queue = snap.queue(name)
        assert queue is not None
        assert queue.messages == 5
        assert queue.consumers == 0
        assert any(
            b.exchange == name and b.routing_key == "compute.#" and b.queue == name
            for b in snap.bindings
        )
        assert snap.exchange(name).type == "topic"  # type: ignore[union-attr]
        for _ in range(2):
            msg = channel.basic_get(name)
            channel.basic_ack(msg.delivery_tag)
        queue = snapshot().queue(name)
        assert queue is not None
        assert queue.messages == 3
        tag = channel.basic_consume(name, callback=lambda m: None)
        queue = snapshot().queue(name)
        assert queue is not None
        assert queue.consumers == 1
        channel.basic_cancel(tag)
    finally:
        channel.queue_delete(name)
        channel.exchange_delete(name)


def test_a_queue_deleted_meanwhile_is_left_out(rabbitmq_url: str) -> None:
    assert current_counts(rabbitmq_url, [f"gone-{uuid.uuid4().hex}"]) == {}


def test_the_management_port_is_the_brokers_own(rabbit: RabbitNode, rabbitmq_url: str) -> None:
    """Not always 15672: the AMQP port + 10000 (5672 → 15672), or the URL given."""
    assert management_url_for("amqp://u:p@10.1.2.3:5672/vh") == "http://10.1.2.3:15672"
    assert management_url_for("amqp://u:p@10.1.2.3:5999/vh") == "http://10.1.2.3:15999"
    if rabbit.own:  # the suite's own node keeps to the rule; an external one may not
        assert management_url_for(rabbitmq_url) == rabbit.management_url
        assert rabbitmq_snapshot(rabbitmq_url).source == "rabbitmq"


def test_a_broker_without_its_management_api_is_a_clear_error(rabbitmq_url: str) -> None:
    with pytest.raises(MessagingError, match="rabbitmq-plugins enable rabbitmq_management"):
        rabbitmq_snapshot(rabbitmq_url, management_url="http://127.0.0.1:1", timeout=1)


def test_a_view_without_its_broker_data_says_so_once_and_stops_asking(
    rabbitmq_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """RemoteCloud.watch() on a broker whose management API does not answer: one message in
    the Broker tab, one warning in the log, no more attempts; the other views keep going."""
    with RemoteCloud(rabbitmq_url, management_url="http://127.0.0.1:1") as remote:
        asked = 0
        real = remote.snapshot

        def counted() -> BrokerSnapshot:
            nonlocal asked
            asked += 1
            return real()

        remote.snapshot = counted  # type: ignore[method-assign]
        board = remote.watch()
        for _ in range(5):
            board.broker._last_snapshot = 0.0  # as if SNAPSHOT_EVERY had passed each time
            board.flush()
        assert asked == 1
        assert "rabbitmq-plugins enable rabbitmq_management" in board.broker.error
        tab = board.widget().children[1].children[1]
        assert "rabbitmq_management" in tab.children[0].value  # shown above the graph
        assert board.publisher.views  # the flow, messages and stepper still update
        warnings = [r for r in caplog.records if "broker view has no data" in r.getMessage()]
        assert len(warnings) == 1
        publisher = board.publisher._thread
    assert not publisher.is_alive()  # closing the remote cloud stopped the publisher


def test_a_view_that_raises_is_dropped_and_the_publisher_stops() -> None:
    class Broken:
        def take(self, events: list[object]) -> None:
            raise ValueError("no data")

        def hold_sync(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()

    bus = TraceBus()
    publisher = Publisher(bus, rate=20)
    broken = publisher.add(Broken())
    publisher.flush()
    publisher.flush()
    assert publisher.failed == [broken]
    publisher._thread.join(timeout=5)
    assert not publisher._thread.is_alive()  # no view left: the thread ended by itself
    publisher.close()


def test_the_suites_node_can_be_frozen_and_thawed(rabbit: RabbitNode) -> None:
    """broker.frozen(): the node's VM stopped dead (SIGSTOP), then going on (SIGCONT)."""
    require(rabbit.own, "the tests freeze only a node they started")
    with rabbit.frozen():
        conn = amqp.Connection(f"{rabbit.host}:{rabbit.port}", connect_timeout=1)
        with pytest.raises((OSError, amqp.exceptions.AMQPError)):
            conn.connect()  # TCP is accepted by the kernel; the handshake is never answered
    with amqp.Connection(f"{rabbit.host}:{rabbit.port}", connect_timeout=5) as conn:
        conn.connect()
        assert conn.connected
