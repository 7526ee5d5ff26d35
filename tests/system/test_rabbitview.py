"""A RabbitMQ snapshot is right at once, although the management API lags by seconds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import amqp
import pytest

from labcloud.messaging.exceptions import MessagingError
from labcloud.messaging.rabbitview import current_counts, management_url_for, rabbitmq_snapshot
from tests.conftest import port_open, require

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def channel(rabbitmq_url: str) -> Iterator[amqp.Channel]:
    require(port_open("127.0.0.1", 15672), "RabbitMQ's management API is not on 15672")
    with amqp.Connection("127.0.0.1:5672") as conn:
        conn.connect()
        yield conn.channel()


def test_depths_and_consumers_are_current(rabbitmq_url: str, channel: amqp.Channel) -> None:
    name = f"view-{uuid.uuid4().hex[:8]}"
    channel.exchange_declare(name, "topic", durable=False, auto_delete=False)
    channel.queue_declare(name, durable=False, auto_delete=False)
    channel.queue_bind(name, name, "compute.#")
    try:
        for i in range(5):
            channel.basic_publish(amqp.Message(str(i)), exchange=name, routing_key="compute.x")
        snap = rabbitmq_snapshot(rabbitmq_url)
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
        queue = rabbitmq_snapshot(rabbitmq_url).queue(name)
        assert queue is not None
        assert queue.messages == 3
        tag = channel.basic_consume(name, callback=lambda m: None)
        queue = rabbitmq_snapshot(rabbitmq_url).queue(name)
        assert queue is not None
        assert queue.consumers == 1
        channel.basic_cancel(tag)
    finally:
        channel.queue_delete(name)
        channel.exchange_delete(name)


def test_a_queue_deleted_meanwhile_is_left_out(rabbitmq_url: str) -> None:
    assert current_counts(rabbitmq_url, [f"gone-{uuid.uuid4().hex}"]) == {}


def test_management_url_and_a_clear_error(rabbitmq_url: str) -> None:
    assert management_url_for("amqp://u:p@10.1.2.3:5672/vh") == "http://10.1.2.3:15672"
    assert management_url_for(rabbitmq_url) == "http://127.0.0.1:15672"
    with pytest.raises(MessagingError, match="rabbitmq-plugins enable rabbitmq_management"):
        rabbitmq_snapshot(rabbitmq_url, management_url="http://127.0.0.1:1", timeout=1)
