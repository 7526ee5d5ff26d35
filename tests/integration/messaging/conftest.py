"""Fixtures for RPC tests that run the same way over memory:// and RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from labcloud.messaging import RPCClient, RPCServer, Target, Transport, get_transport
from labcloud.trace import TraceBus


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.rabbitmq)])
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    """A transport per test: its own in-process broker, or a connection to RabbitMQ."""
    url = "memory://" if request.param == "memory" else request.getfixturevalue("rabbitmq_url")
    t = get_transport(url, bus=TraceBus())
    yield t
    t.cleanup()


@pytest.fixture
def exchange() -> str:
    """A unique exchange name, so tests sharing one RabbitMQ never see each other."""
    return f"test-{uuid.uuid4().hex[:12]}"


class Calculator:
    """An endpoint with the kinds of method a service has."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def add(self, ctxt: object, a: int, b: int) -> int:
        return a + b

    def whoami(self, ctxt: object) -> dict[str, object]:
        return {
            "user_id": ctxt.user_id,
            "project_id": ctxt.project_id,  # type: ignore[attr-defined]
            "request_id": ctxt.request_id,
        }  # type: ignore[attr-defined]

    def record(self, ctxt: object, value: object) -> None:
        self.seen.append(("record", value))

    def fail(self, ctxt: object, kind: str) -> None:
        from labcloud.exceptions import NoValidHost

        if kind == "labcloud":
            raise NoValidHost(reason="all hosts are full")
        raise ValueError("the value was wrong")


@pytest.fixture
def serve(transport: Transport, exchange: str) -> Iterator[object]:
    """Start servers on ``exchange``: ``serve(endpoint, topic=..., server=...)``."""
    servers: list[RPCServer] = []

    def start(endpoint: object, topic: str = "calc", server: str = "host1") -> RPCServer:
        srv = RPCServer(
            transport, Target(exchange=exchange, topic=topic, server=server), [endpoint]
        )
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


@pytest.fixture
def client(transport: Transport, exchange: str) -> RPCClient:
    return RPCClient(transport, Target(exchange=exchange, topic="calc"), timeout=10)
