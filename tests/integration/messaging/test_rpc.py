"""RPC behaviour, identical over memory:// and RabbitMQ."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.exceptions import NoValidHost
from labcloud.messaging import (
    MessageUndeliverable,
    MessagingError,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RPCClient,
    Target,
    Transport,
)
from labcloud.messaging.dispatcher import UnsupportedVersion
from tests.integration.messaging.conftest import Calculator


class Waiter:
    """Counts calls and lets a test wait for the n-th one, instead of sleeping."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._cond = threading.Condition()

    def record(self, ctxt: object, value: Any) -> None:
        with self._cond:
            self.values.append(value)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10) -> list[Any]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.values) >= n, timeout), self.values
            return list(self.values)


def test_call_returns_the_result(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    assert client.call({}, "add", a=2, b=40) == 42


def test_context_travels_with_the_message(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    ctxt = RequestContext(user_id="u1", project_id="p1", request_id="req-abc")
    assert client.call(ctxt, "whoami") == {
        "user_id": "u1",
        "project_id": "p1",
        "request_id": "req-abc",
    }


def test_cast_reaches_the_server(serve: Any, client: RPCClient) -> None:
    waiter = Waiter()
    serve(waiter)
    for i in range(20):
        client.cast({}, "record", value=i)
    assert sorted(waiter.wait_for(20)) == list(range(20))


def test_server_targeted_cast_goes_to_that_host_only(serve: Any, client: RPCClient) -> None:
    one, two = Waiter(), Waiter()
    serve(one, server="host1")
    serve(two, server="host2")
    for i in range(5):
        client.prepare(server="host2").cast({}, "record", value=i)
    assert sorted(two.wait_for(5)) == [0, 1, 2, 3, 4]  # a pool runs them: any order
    client.prepare(server="host1").call({}, "record", value="sync")  # a barrier on host1
    assert one.values == ["sync"]


def test_fanout_cast_reaches_every_server(serve: Any, client: RPCClient) -> None:
    waiters = [Waiter() for _ in range(3)]
    for i, w in enumerate(waiters):
        serve(w, server=f"host{i}")
    client.prepare(fanout=True).cast({}, "record", value="hello")
    for w in waiters:
        assert w.wait_for(1) == ["hello"]


def test_topic_casts_are_shared_between_servers(serve: Any, client: RPCClient) -> None:
    shared = Waiter()

    class Host:
        def __init__(self, name: str) -> None:
            self.name = name

        def record(self, ctxt: object, value: Any) -> None:
            shared.record(ctxt, (self.name, value))

    serve(Host("host1"), server="host1")
    serve(Host("host2"), server="host2")
    for i in range(40):
        client.cast({}, "record", value=i)
    got = shared.wait_for(40)
    assert sorted(v for _, v in got) == list(range(40))  # each exactly once
    assert {name for name, _ in got} == {"host1", "host2"}  # and both took a share


def test_labcloud_exceptions_come_back_as_themselves(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    with pytest.raises(NoValidHost, match="all hosts are full"):
        client.call({}, "fail", kind="labcloud")


def test_other_exceptions_come_back_as_remote_error(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    with pytest.raises(RemoteError) as info:
        client.call({}, "fail", kind="python")
    assert info.value.exc_type == "ValueError"
    assert "the value was wrong" in str(info.value)
    assert "Traceback" in info.value.traceback


def test_unknown_method_names_method_and_topic(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    with pytest.raises(NoSuchMethod, match=r"topic 'calc'.*'no_such_thing'"):
        client.call({}, "no_such_thing")


def test_private_methods_are_not_callable(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    with pytest.raises(NoSuchMethod):
        client.call({}, "__init__")


def test_version_mismatch_is_reported(serve: Any, client: RPCClient) -> None:
    class V2:
        target = Target(version="2.3")

        def ping(self, ctxt: object) -> str:
            return "pong"

    serve(V2())
    assert client.prepare(version="2.1").call({}, "ping") == "pong"
    with pytest.raises(UnsupportedVersion):
        client.prepare(version="2.5").call({}, "ping")


def test_call_without_reply_times_out(serve: Any, client: RPCClient) -> None:
    release = threading.Event()

    class Slow:
        def hang(self, ctxt: object) -> None:
            release.wait(10)

    serve(Slow())
    try:
        with pytest.raises(MessagingTimeout, match="'hang'"):
            client.prepare(timeout=0.3).call({}, "hang")
    finally:
        release.set()


def test_cast_to_a_topic_nobody_serves_raises(client: RPCClient) -> None:
    with pytest.raises(MessageUndeliverable, match="routing key 'calc'"):
        client.cast({}, "record", value=1)


def test_call_cannot_be_fanout(client: RPCClient) -> None:
    with pytest.raises(MessagingError, match="fanout"):
        client.prepare(fanout=True).call({}, "add", a=1, b=2)


def test_many_concurrent_calls_get_their_own_results(serve: Any, client: RPCClient) -> None:
    serve(Calculator())
    results: dict[int, int] = {}

    def worker(n: int) -> None:
        for i in range(20):
            results[n * 100 + i] = client.call({}, "add", a=n * 100, b=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: k for k in results}
    assert len(results) == 160


class Gate:
    """``wait_open`` blocks until the test opens the gate (at most 20 s)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Semaphore(0)  # released by each wait_open as it starts

    def wait_open(self, ctxt: object) -> str:
        self.entered.release()
        self.opened.wait(20)
        return "opened"

    def add(self, ctxt: object, a: int, b: int) -> int:
        return a + b


def test_a_call_is_answered_while_another_caller_waits(serve: Any, client: RPCClient) -> None:
    """Over RabbitMQ the first caller reads the reply queue for everyone while it waits."""
    gate = Gate()
    serve(gate)
    slow: list[str] = []
    waiting = threading.Thread(target=lambda: slow.append(client.call({}, "wait_open")))
    waiting.start()
    try:
        assert [client.call({}, "add", a=1, b=i) for i in range(5)] == [1, 2, 3, 4, 5]
        assert not slow, "the first call ended before its method did"
    finally:
        gate.opened.set()
        waiting.join()
    assert slow == ["opened"]


def test_a_caller_waiting_behind_one_that_timed_out_gets_its_reply(
    serve: Any, client: RPCClient
) -> None:
    gate = Gate()
    serve(gate)
    outcomes: list[str] = []

    def gives_up() -> None:  # the only caller, so the one reading the reply queue
        with pytest.raises(MessagingTimeout):
            client.prepare(timeout=1).call({}, "wait_open")
        outcomes.append("timed out")

    first = threading.Thread(target=gives_up)
    first.start()
    assert gate.entered.acquire(timeout=10)
    second = threading.Thread(target=lambda: outcomes.append(client.call({}, "wait_open")))
    second.start()
    assert gate.entered.acquire(timeout=10)
    first.join()
    gate.opened.set()  # the second reply comes after its reader left: the second reads it
    second.join()
    assert outcomes == ["timed out", "opened"]


def test_a_reply_whose_caller_gave_up_is_still_read_and_acknowledged(
    transport: Transport, serve: Any, client: RPCClient
) -> None:
    """No caller waits any more: the reply queue's own consumer takes the late reply."""
    gate = Gate()
    serve(gate)
    acks = transport.bus.collect(where=lambda e: e.event == "ack" and e.kind == "reply")
    with pytest.raises(MessagingTimeout):
        client.prepare(timeout=0.2).call({}, "wait_open")
    gate.opened.set()
    late = acks.wait_for(lambda e: True)
    assert late.queue == transport.reply_waiter().queue
    assert client.call({}, "add", a=1, b=2) == 3  # and the queue goes on serving callers


def test_every_step_is_traced(transport: Transport, serve: Any, client: RPCClient) -> None:
    log = transport.bus.collect()
    serve(Calculator())
    client.call(RequestContext(request_id="req-t"), "add", a=1, b=2)
    log.wait_for(lambda e: e.event == "ack" and e.kind == "reply")
    steps = [(e.event, e.kind) for e in log]
    assert steps == [
        ("publish", "call"),
        ("deliver", "call"),
        ("ack", "call"),
        ("publish", "reply"),
        ("deliver", "reply"),
        ("ack", "reply"),
    ]
    publish = log[0]
    assert publish.method == "add"
    assert publish.args == {"a": 1, "b": 2}
    assert publish.exchange == client.target.exchange
    assert publish.routing_key == "calc"
    assert publish.request_id == "req-t"
    assert publish.msg_id
    assert publish.size > 0
    assert log[1].queue == "calc"
    assert log[1].service == "calc"
    assert log[4].args == {"result": 3, "failure": None}
    log.close()


@pytest.mark.parametrize(
    "body",
    [
        b"certainly not json",
        b"[]",
        b'{"oslo.version": "2.0", "oslo.message": "{\\"args\\": 1}"}',
        b'{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"add\\", \\"args\\": []}"}',
    ],
    ids=["garbage", "json-list", "no-method", "args-not-object"],
)
def test_malformed_messages_are_rejected_and_the_server_keeps_serving(
    transport: Transport,
    serve: Any,
    client: RPCClient,
    exchange: str,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from labcloud.messaging.topology import topic_exchange

    log = transport.bus.collect(where=lambda e: e.event == "reject")
    serve(Calculator())
    transport.driver.publish(topic_exchange(exchange), "calc", body, mandatory=True)
    event = log.wait_for(lambda e: True)
    assert event.queue == "calc"
    assert event.reason
    assert event.size == len(body)
    assert client.call({}, "add", a=1, b=1) == 2  # still serving
    said = ("rejected a message", "cannot run a request")
    assert any(any(s in r.message for s in said) for r in caplog.records)
    snapshot = transport.snapshot()
    queue = snapshot.queue("calc")
    assert queue is not None
    assert queue.messages == 0
    log.close()


def test_trace_events_reach_another_process_through_the_trace_exchange(
    transport: Transport, serve: Any, client: RPCClient
) -> None:
    """A notebook watching services elsewhere: forwarder on one side, watcher on the other."""
    from labcloud.messaging.remote import TraceForwarder, TraceWatcher
    from labcloud.trace import TraceBus

    watcher_bus = TraceBus()
    seen = watcher_bus.collect()
    watcher = TraceWatcher(transport.driver, watcher_bus)
    forwarder = TraceForwarder(transport.driver, transport.bus)
    try:
        serve(Calculator())
        client.call({}, "add", a=2, b=3)
        event = seen.wait_for(lambda e: e.event == "deliver" and e.kind == "reply")
        assert event.args == {"result": 5, "failure": None}
        assert seen.wait_for(lambda e: e.event == "publish" and e.kind == "call").method == "add"
    finally:
        forwarder.stop()
        watcher.stop()


def test_a_message_delivered_twice_runs_once(
    transport: Transport, serve: Any, client: RPCClient, exchange: str
) -> None:
    """What the RabbitMQ driver resends after a broker restart must not run twice."""
    from labcloud.messaging import envelope
    from labcloud.messaging.topology import topic_exchange

    waiter = Waiter()
    serve(waiter)
    drops = transport.bus.collect(where=lambda e: e.event == "reject")
    once = envelope.pack(envelope.request("record", {"value": "once"}, {}))
    other = envelope.pack(envelope.request("record", {"value": "other"}, {}))
    for body in (once, once, other):
        transport.driver.publish(topic_exchange(exchange), "calc", body, mandatory=True)
    assert "duplicate" in drops.wait_for(lambda e: True).reason
    client.prepare().call({}, "record", value="barrier")  # after the three above
    assert sorted(waiter.wait_for(3)) == ["barrier", "once", "other"]
    drops.close()
