"""A call's timeout comes from the transport's ``rpc_response_timeout`` (oslo.messaging's
[DEFAULT] option) unless the client asks for its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labcloud.conf import parse
from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport, get_transport
from labcloud.messaging.exceptions import MessagingTimeout
from labcloud.messaging.memory import MemoryDriver
from labcloud.messaging.topology import QueueSpec, Subscription, topic_exchange


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_transport("memory://", rpc_response_timeout=0.3)
    yield t
    t.cleanup()


def test_a_call_nobody_answers_times_out_after_the_transports_timeout(
    transport: Transport,
) -> None:
    driver = transport.driver
    assert isinstance(driver, MemoryDriver)
    # a queue with no consumer: the call is routed, and never answered
    driver.declare([Subscription(QueueSpec("silent"), ((topic_exchange("nova"), "silent"),))])
    client = RPCClient(transport, Target("nova", "silent"))
    assert client.timeout == 0.3
    with pytest.raises(MessagingTimeout, match=r"0\.3 s"):
        client.call(RequestContext(), "ping")
    assert client.prepare(timeout=5).timeout == 5  # a client may ask for its own


def test_the_default_is_oslos_sixty_seconds() -> None:
    with get_transport("memory://") as t:
        assert RPCClient(t, Target("nova", "x")).timeout == 60.0


def test_the_config_file_sets_it() -> None:
    conf = parse("[DEFAULT]\nrpc_response_timeout = 7\n", "nova")
    assert conf.DEFAULT.rpc_response_timeout == 7.0
