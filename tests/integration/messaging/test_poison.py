"""No message kills a consumer, and every request a server cannot run still answers or is
logged: over memory:// and RabbitMQ alike (the ``transport`` fixture runs both)."""

from __future__ import annotations

from typing import Any

import pytest

from labcloud.messaging import RPCClient, Transport, envelope
from labcloud.messaging.exceptions import InvalidMessage
from labcloud.messaging.topology import DEFAULT_EXCHANGE, topic_exchange

DEEP = b"[" * 100_000  # json.loads raises RecursionError on it


def test_a_deeply_nested_body_is_rejected_and_the_server_keeps_serving(
    transport: Transport, serve: Any, client: RPCClient, exchange: str
) -> None:
    rejects = transport.bus.collect(where=lambda e: e.event == "reject")
    serve(_calculator())
    for _ in range(3):  # not requeued: it would come back and fail again, for ever
        transport.driver.publish(topic_exchange(exchange), "calc", DEEP, mandatory=True)
    for n in range(1, 4):
        rejects.wait_for(lambda e, n=n: len(rejects) >= n)
    assert all("nested too deeply" in e.reason for e in rejects)
    assert client.call({}, "add", a=1, b=2) == 3  # the consumer is alive
    rejects.close()


def test_a_poisoned_reply_queue_keeps_answering_calls(
    transport: Transport, serve: Any, client: RPCClient
) -> None:
    serve(_calculator())
    assert client.call({}, "add", a=1, b=1) == 2  # this process's reply queue exists
    rejects = transport.bus.collect(where=lambda e: e.event == "reject" and e.kind == "reply")
    queue = transport.reply_waiter().queue
    transport.driver.publish(DEFAULT_EXCHANGE, queue, DEEP, mandatory=True)
    transport.driver.publish(DEFAULT_EXCHANGE, queue, b"not json", mandatory=True)
    rejects.wait_for(lambda e: len(rejects) >= 2)
    assert client.call({}, "add", a=2, b=2) == 4  # the reply consumer is alive
    rejects.close()


@pytest.mark.parametrize(
    "fields",
    [{"args": [1, 2]}, {"args": None}, {"method": 5}, {"_context_roles": 5}],
    ids=["args-list", "args-null", "method-not-a-string", "roles-not-a-list"],
)
def test_a_call_the_server_cannot_run_gets_an_error_reply(
    transport: Transport, serve: Any, client: RPCClient, exchange: str, fields: dict[str, Any]
) -> None:
    serve(_calculator())
    replies = transport.reply_waiter()
    msg = envelope.request("add", {"a": 1, "b": 2}, None)
    msg_id = envelope.new_id()
    msg.update(_msg_id=msg_id, _reply_q=replies.queue, _timeout=None, **fields)
    slot = replies.listen(msg_id)
    try:
        transport.driver.publish(
            topic_exchange(exchange), "calc", envelope.pack(msg), mandatory=True
        )
        reply = replies.wait(slot, 10)
    finally:
        replies.unlisten(msg_id)
    assert reply is not None, "no reply: the caller would wait for its whole timeout"
    failure = json_failure(reply["failure"])
    assert failure["class"] == "InvalidMessage"  # oslo's failure format: class, module, ...
    assert set(failure) == {"class", "module", "message", "tb", "args", "kwargs"}
    assert isinstance(envelope.deserialize_failure(reply["failure"]), InvalidMessage)


def test_a_cast_the_server_cannot_run_is_logged_and_traced(
    transport: Transport,
    serve: Any,
    client: RPCClient,
    exchange: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve(_calculator())
    rejects = transport.bus.collect(where=lambda e: e.event == "reject")
    msg = envelope.request("add", {"a": 1, "b": 2}, None) | {"_context_roles": 5}
    transport.driver.publish(topic_exchange(exchange), "calc", envelope.pack(msg), mandatory=True)
    event = rejects.wait_for(lambda e: True)
    assert "roles" in event.reason
    assert any("cannot run a request" in r.message for r in caplog.records)
    assert client.call({}, "add", a=1, b=1) == 2
    rejects.close()


def json_failure(failure: str) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(failure)
    return data


def _calculator() -> object:
    from tests.integration.messaging.conftest import Calculator

    return Calculator()
