"""A binary over what an in-kernel cloud shares (labcloud.binaries.shared), and a binary that
stops and starts again (lab 07's stop_compute / start_compute)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.conf import parse
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.messaging import RPCClient, Target, Transport, get_transport

CONF = parse("[DEFAULT]\nhost = compute1\ntransport_url = memory://\n", "nova")


class Echo:
    def echo(self, ctxt: RequestContext, value: Any) -> Any:
        return value


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_transport("memory://", rpc_response_timeout=5)
    yield t
    t.cleanup()


def test_a_binary_uses_what_it_is_given_and_closes_none_of_it(transport: Transport) -> None:
    db = Database("sqlite://", MetaData())
    shared = Shared(transport, {"image": "http://127.0.0.1:9292"}, dbs={"nova": db})
    binary = Binary("nova-conductor", CONF, shared=shared)
    assert binary.transport is transport
    assert binary.bus is transport.bus
    assert binary.database(MetaData()) is db
    assert binary.catalog() == {"image": "http://127.0.0.1:9292"}  # nobody logs in
    target = Target("nova", "conductor", server="compute1")
    binary.rpc(target, Echo())
    binary.start()
    assert RPCClient(transport, target).call(RequestContext(), "echo", value=1) == 1
    binary.stop()
    # the transport still carries calls: the binary that stopped did not close its driver
    other = Binary("nova-scheduler", CONF, shared=shared)
    other.rpc(Target("nova", "scheduler", server="compute1"), Echo())
    other.start()
    try:
        client = RPCClient(transport, Target("nova", "scheduler", server="compute1"))
        assert client.call(RequestContext(), "echo", value=2) == 2
    finally:
        other.stop()


def test_stopped_without_release_it_starts_again_with_its_periodic_tasks() -> None:
    binary = Binary("nova-compute", CONF)
    ticked, closed = threading.Event(), threading.Event()
    binary.periodic("report", 0.01, ticked.set)
    binary.release(closed.set)
    binary.start()
    assert ticked.wait(5)
    binary.stop(release=False)
    assert not closed.is_set()
    ticked.clear()
    binary.start()
    assert ticked.wait(5)  # a new thread: the first one ended with the stop
    binary.stop()
    assert closed.is_set()
