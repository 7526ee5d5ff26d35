"""Dispatching by name and version, and oslo.messaging's queue names and flags."""

from __future__ import annotations

import pytest

from labcloud.context import RequestContext
from labcloud.messaging.dispatcher import Dispatcher, UnsupportedVersion
from labcloud.messaging.exceptions import NoSuchMethod
from labcloud.messaging.target import Target
from labcloud.messaging.topology import (
    TRANSIENT_QUEUE_TTL_MS,
    publish_exchange,
    reply_queue_name,
    server_subscriptions,
)


class ComputeV5:
    target = Target(version="5.2")

    def build_and_run_instance(self, ctxt: RequestContext, instance: str) -> str:
        return f"building {instance}"


class Admin:
    target = Target(namespace="admin")

    def ping(self, ctxt: RequestContext) -> str:
        return "admin pong"


def test_dispatch_by_method_namespace_and_version() -> None:
    d = Dispatcher([ComputeV5(), Admin()], "compute")
    ctxt = RequestContext()
    assert d.dispatch(ctxt, "build_and_run_instance", {"instance": "i"}, version="5.0") == (
        "building i"
    )
    assert d.dispatch(ctxt, "ping", {}, namespace="admin") == "admin pong"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(ctxt, "build_and_run_instance", {"instance": "i"}, version="5.3")
    with pytest.raises(UnsupportedVersion):
        d.dispatch(ctxt, "build_and_run_instance", {"instance": "i"}, version="6.0")
    with pytest.raises(NoSuchMethod, match=r"topic .compute.*.ping."):
        d.dispatch(ctxt, "ping", {})  # ping exists only in the admin namespace


def test_server_queues_match_oslo_messaging() -> None:
    subs = server_subscriptions(Target(exchange="nova", topic="compute", server="node1"))
    topic, direct, fanout = subs
    assert (topic.queue.name, topic.bindings[0][1]) == ("compute", "compute")
    assert (direct.queue.name, direct.bindings[0][1]) == ("compute.node1", "compute.node1")
    for sub in (topic, direct):
        exchange = sub.bindings[0][0]
        assert (exchange.name, exchange.type, exchange.durable, exchange.auto_delete) == (
            "nova",
            "topic",
            False,
            False,
        )
        assert not sub.queue.durable
        assert not sub.queue.auto_delete
        assert not sub.queue.arguments
    fx = fanout.bindings[0][0]
    assert (fx.name, fx.type, fx.auto_delete) == ("compute_fanout", "fanout", True)
    assert fanout.queue.name.startswith("compute_fanout_")
    assert len(fanout.queue.name) == 47
    assert fanout.queue.arguments == {"x-expires": TRANSIENT_QUEUE_TTL_MS} == {"x-expires": 1800000}


def test_publish_addresses() -> None:
    assert publish_exchange(Target("nova", "compute"))[0].name == "nova"
    assert publish_exchange(Target("nova", "compute", server="n1"))[1] == "compute.n1"
    fanout, key = publish_exchange(Target("nova", "compute", fanout=True))
    assert (fanout.name, fanout.type, key) == ("compute_fanout", "fanout", "")  # as oslo sends it
    assert reply_queue_name().startswith("reply_")
    assert len(reply_queue_name()) == 38


def test_a_server_needs_a_host() -> None:
    with pytest.raises(ValueError, match="server"):
        server_subscriptions(Target("nova", "compute"))
