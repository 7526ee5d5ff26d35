"""labcloud and the real oslo.messaging on one RabbitMQ: each calls, casts and fanout-casts
to the other, and both declare the same queues with the same flags."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.messaging import RemoteError, RPCClient, RPCServer, Target, get_transport
from labcloud.messaging.transport import Transport
from tests.conftest import require

try:  # in CI a missing oslo.messaging must fail these tests, not skip them
    import oslo_messaging as om
    from oslo_config import cfg
except ImportError:  # pragma: no cover - only without the test extra
    om = cfg = None

pytestmark = [pytest.mark.rabbitmq, pytest.mark.interop]


class Recorder:
    """Endpoint for either library: records what it got, lets the test wait for it."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Any, Any]] = []
        self.cond = threading.Condition()

    def add(self, ctxt: Any, a: int, b: int) -> int:
        return a + b

    def record(self, ctxt: Any, value: Any) -> None:
        ctx = ctxt if isinstance(ctxt, dict) else ctxt.to_dict()
        with self.cond:
            self.got.append(("record", value, ctx.get("request_id")))
            self.cond.notify_all()

    def boom(self, ctxt: Any) -> None:
        raise ValueError("boom from the server")

    def wait(self, n: int) -> list[tuple[str, Any, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, 10), self.got
            return list(self.got)


@pytest.fixture
def oslo_transport(rabbitmq_url: str) -> Iterator[Any]:
    require(om is not None, "oslo.messaging is not installed (pip install -e '.[test]')")
    conf = cfg.CONF  # oslo.messaging 18 reads some options (tracing) from the global CONF
    if not conf._args:
        conf([], project="labcloud-interop")
    url = rabbitmq_url.replace("amqp://", "rabbit://").rstrip("/") + "/"
    transport = om.get_rpc_transport(conf, url)
    yield transport
    transport.cleanup()


@pytest.fixture
def lab_transport(rabbitmq_url: str) -> Iterator[Transport]:
    t = get_transport(rabbitmq_url)
    yield t
    t.cleanup()


@pytest.fixture
def names() -> tuple[str, str]:
    return f"interop-{uuid.uuid4().hex[:8]}", "compute"


def oslo_server(transport: Any, exchange: str, topic: str, host: str, endpoint: Any) -> Any:
    target = om.Target(exchange=exchange, topic=topic, server=host)
    server = om.get_rpc_server(transport, target, [endpoint])
    server.start()
    return server


def test_oslo_client_calls_casts_and_fans_out_to_labcloud(
    oslo_transport: Any, lab_transport: Transport, names: tuple[str, str]
) -> None:
    exchange, topic = names
    rec = Recorder()
    with RPCServer(lab_transport, Target(exchange=exchange, topic=topic, server="node1"), [rec]):
        client = om.get_rpc_client(oslo_transport, om.Target(exchange=exchange, topic=topic))
        ctxt = {"request_id": "req-from-oslo", "user_id": "u"}
        assert client.call(ctxt, "add", a=20, b=22) == 42
        client.cast(ctxt, "record", value="cast")
        client.prepare(server="node1").cast(ctxt, "record", value="direct")
        client.prepare(fanout=True).cast(ctxt, "record", value="fanout")
        got = rec.wait(3)
        assert sorted(v for _, v, _ in got) == ["cast", "direct", "fanout"]
        assert {r for _, _, r in got} == {"req-from-oslo"}
        with pytest.raises(ValueError, match="boom from the server"):  # oslo rebuilds builtins
            client.call(ctxt, "boom")
        with pytest.raises(om.RemoteError, match="NoSuchMethod"):
            client.call(ctxt, "no_such_method")


def test_labcloud_client_calls_casts_and_fans_out_to_oslo(
    oslo_transport: Any, lab_transport: Transport, names: tuple[str, str]
) -> None:
    exchange, topic = names
    rec = Recorder()
    server = oslo_server(oslo_transport, exchange, topic, "node1", rec)
    try:
        client = RPCClient(lab_transport, Target(exchange=exchange, topic=topic), timeout=10)
        ctxt = RequestContext(request_id="req-from-labcloud")
        assert client.call(ctxt, "add", a=1, b=2) == 3
        client.cast(ctxt, "record", value="cast")
        client.prepare(server="node1").cast(ctxt, "record", value="direct")
        client.prepare(fanout=True).cast(ctxt, "record", value="fanout")
        got = rec.wait(3)
        assert sorted(v for _, v, _ in got) == ["cast", "direct", "fanout"]
        assert {r for _, _, r in got} == {"req-from-labcloud"}
        with pytest.raises(RemoteError) as info:
            client.call(ctxt, "boom")
        assert info.value.exc_type == "ValueError"
        assert "boom from the server" in str(info.value)
        with pytest.raises(RemoteError) as missing:
            client.call(ctxt, "no_such_method")
        assert missing.value.exc_type == "NoSuchMethod"
    finally:
        server.stop()
        server.wait()


def test_both_libraries_serve_one_topic_with_identical_queue_flags(
    oslo_transport: Any, lab_transport: Transport, names: tuple[str, str]
) -> None:
    """Declaring the same queues twice with different flags would fail (PRECONDITION_FAILED);
    here an oslo server and a labcloud server share ``compute`` and split its casts."""
    exchange, topic = names
    oslo_rec, lab_rec = Recorder(), Recorder()
    server = oslo_server(oslo_transport, exchange, topic, "node-oslo", oslo_rec)
    try:
        target = Target(exchange=exchange, topic=topic, server="node-lab")
        with RPCServer(lab_transport, target, [lab_rec]):
            client = RPCClient(lab_transport, Target(exchange=exchange, topic=topic), timeout=10)
            for i in range(40):
                client.cast({}, "record", value=i)
            with oslo_rec.cond:
                oslo_rec.cond.wait_for(lambda: len(oslo_rec.got) + len(lab_rec.got) >= 40, 10)
            values = sorted(v for _, v, _ in oslo_rec.got + lab_rec.got)
            assert values == list(range(40))
            assert oslo_rec.got
            assert lab_rec.got
            snap = lab_transport.snapshot()
            shared = snap.queue(topic)
            assert shared is not None
            assert shared.consumers == 2
            assert not shared.durable
            assert not shared.auto_delete
            assert snap.exchange(exchange).type == "topic"  # type: ignore[union-attr]
            fanout = snap.exchange(f"{topic}_fanout")
            assert fanout is not None
            assert fanout.type == "fanout"
            assert fanout.auto_delete
            fanout_queues = [q for q in snap.queues if q.name.startswith(f"{topic}_fanout_")]
            assert len(fanout_queues) >= 2
            assert all(q.arguments.get("x-expires") == 1_800_000 for q in fanout_queues)
    finally:
        server.stop()
        server.wait()


def test_messages_on_the_wire_have_the_same_shape(
    oslo_transport: Any, lab_transport: Transport, names: tuple[str, str], rabbitmq_url: str
) -> None:
    """Capture one call from each library off a plain queue and compare the envelopes."""
    import json

    import kombu

    exchange, topic = names
    with kombu.Connection(rabbitmq_url) as conn:
        ch = conn.channel()
        ch.exchange_declare(exchange, "topic", durable=False, auto_delete=False)
        ch.queue_declare(topic, durable=False, auto_delete=False)
        ch.queue_bind(topic, exchange, topic)
        try:
            om.get_rpc_client(oslo_transport, om.Target(exchange=exchange, topic=topic)).cast(
                {"request_id": "r"}, "ping", x=1
            )
            RPCClient(lab_transport, Target(exchange=exchange, topic=topic)).cast(
                {"request_id": "r"}, "ping", x=1
            )
            bodies = []
            for _ in range(2):
                msg = None
                while msg is None:
                    msg = ch.basic_get(topic, no_ack=True)
                bodies.append((json.loads(msg.body), msg.properties))
        finally:
            ch.queue_delete(topic)
            ch.exchange_delete(exchange)
    (oslo_body, oslo_props), (lab_body, lab_props) = bodies
    assert oslo_body.keys() == lab_body.keys() == {"oslo.version", "oslo.message"}
    oslo_msg, lab_msg = json.loads(oslo_body["oslo.message"]), json.loads(lab_body["oslo.message"])
    assert set(lab_msg) == set(oslo_msg)
    assert lab_msg["method"] == oslo_msg["method"]
    assert lab_msg["args"] == oslo_msg["args"]
    assert lab_props["content_type"] == oslo_props["content_type"] == "application/json"
