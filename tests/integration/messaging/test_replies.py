"""The reply path, identical over memory:// and RabbitMQ: each reply reaches its own caller,
and one nobody waits for is still delivered, traced, acknowledged and logged."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from labcloud.messaging import MessagingTimeout, RPCClient, Transport, envelope
from labcloud.messaging.topology import DEFAULT_EXCHANGE
from tests.integration.messaging.conftest import Calculator


def reply_events(transport: Transport) -> Any:
    return transport.bus.collect(where=lambda e: getattr(e, "kind", "") == "reply")


def test_a_reply_nobody_waits_for_is_delivered_acked_and_logged(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    replies = transport.reply_waiter()
    log = reply_events(transport)
    body = envelope.pack(envelope.reply("nobody-waits-for-this", 42))
    with caplog.at_level(logging.INFO, logger="labcloud.messaging.client"):
        transport.driver.publish(DEFAULT_EXCHANGE, replies.queue, body, mandatory=True)
        log.wait_for(lambda e: e.event == "ack")
    assert [(e.event, e.msg_id) for e in log] == [
        ("deliver", "nobody-waits-for-this"),
        ("ack", "nobody-waits-for-this"),
    ]
    assert all(e.queue == replies.queue for e in log)
    assert "reply to nobody-waits-for-this arrived after its caller gave up" in caplog.text
    log.close()


class Gate(Calculator):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.opened = threading.Event()

    def wait_open(self, ctxt: object) -> str:
        self.entered.set()
        self.opened.wait(20)
        return "opened"


def test_a_caller_that_timed_out_just_before_its_reply_raises_and_the_reply_is_dropped(
    transport: Transport, serve: Any, client: RPCClient, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    serve(gate)
    log = reply_events(transport)
    with caplog.at_level(logging.INFO, logger="labcloud.messaging.client"):
        with pytest.raises(MessagingTimeout) as raised:
            client.prepare(timeout=0.3).call({}, "wait_open")
        gate.opened.set()  # the server answers right after its caller gave up
        log.wait_for(lambda e: e.event == "ack")
    msg_id = raised.value.kwargs["msg_id"]
    assert [(e.event, e.msg_id) for e in log] == [
        ("publish", msg_id),
        ("deliver", msg_id),
        ("ack", msg_id),
    ]
    assert f"reply to {msg_id} arrived after its caller gave up" in caplog.text
    assert client.call({}, "add", a=2, b=3) == 5  # the reply queue goes on serving
    log.close()


class Shuffled(Calculator):
    """Answers calls in another order than they came: the higher ``delay``, the later."""

    def slow_add(self, ctxt: object, a: int, b: int, delay: float) -> int:
        time.sleep(delay)  # simulated work: replies overtake each other
        return a + b


def test_many_concurrent_callers_each_get_their_own_reply(
    transport: Transport, serve: Any, client: RPCClient
) -> None:
    serve(Shuffled())
    log = reply_events(transport)
    results: dict[int, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(40)

    def caller(n: int) -> None:
        start.wait()
        try:
            for i in range(5):
                delay = 0.001 * ((n * 7 + i) % 5)
                results[n * 10 + i] = client.call({}, "slow_add", a=n * 10, b=i, delay=delay)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {k: k for k in range(400) if k % 10 < 5}
    log.wait_for(lambda e: sum(x.event == "ack" for x in log) >= 200)
    for step in ("publish", "deliver", "ack"):  # every reply traced once at each step
        assert len({e.msg_id for e in log if e.event == step}) == 200
    log.close()
