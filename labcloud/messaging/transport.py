"""Transport: a driver chosen by URL, the trace bus it reports to, and the reply queue.

``get_transport("memory://")`` gives an in-process broker of its own (share the Transport
object to share the broker); ``get_transport("amqp://guest:guest@127.0.0.1:5672//")``
speaks to RabbitMQ through kombu. Each Transport owns one ``reply_<uuid>`` queue, created
on the first call, as each oslo.messaging process does.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from labcloud.messaging.driver import Delivery, Driver
from labcloud.messaging.exceptions import InvalidTransportURL
from labcloud.messaging.tap import Tap
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import Origin

DEFAULT_URL = "memory://"
DEFAULT_RPC_TIMEOUT = 60.0  # seconds, oslo.messaging's rpc_response_timeout
AMQP_SCHEMES = {"amqp", "pyamqp", "rabbit"}


def make_driver(url: str) -> Driver:
    """The driver for a transport URL (``memory://`` or ``amqp://user:pass@host:port/vhost``)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from labcloud.messaging.memory import MemoryDriver

        return MemoryDriver()
    if scheme in AMQP_SCHEMES:
        from labcloud.messaging.amqp import AmqpDriver

        return AmqpDriver(url)
    raise InvalidTransportURL(url=url, reason="the scheme must be memory:// or amqp://")


class Transport:
    """What RPC clients and servers share: a driver, a tap onto the trace bus, a reply queue."""

    def __init__(
        self,
        driver: Driver,
        *,
        bus: TraceBus | None = None,
        origin: Origin | None = None,
        rpc_response_timeout: float = DEFAULT_RPC_TIMEOUT,
    ):
        self.driver = driver
        # oslo.messaging's [DEFAULT] rpc_response_timeout: how long a call waits for its
        # reply unless the client asks otherwise (a reply lost with a broker restart is
        # waited for this long, as in OpenStack)
        self.rpc_response_timeout = rpc_response_timeout
        self.bus = bus if bus is not None else TraceBus()
        self.origin = origin if origin is not None else Origin()
        self.tap = Tap(self.bus, self.origin)
        self._lock = threading.Lock()
        self._replies: Any = None  # a ReplyWaiter, made on first call

    @property
    def url(self) -> str:
        return self.driver.url

    def reply_waiter(self) -> Any:
        """The per-transport reply listener (created on first use)."""
        replies = self._replies
        if replies is not None:  # every call asks: no lock once it exists
            return replies
        with self._lock:
            if self._replies is None:
                from labcloud.messaging.client import ReplyWaiter

                self._replies = ReplyWaiter(self)
            return self._replies

    def snapshot(self) -> Any:
        return self.driver.snapshot()

    def cleanup(self) -> None:
        """Stop the reply listener and close the driver; safe to call twice."""
        with self._lock:
            replies, self._replies = self._replies, None
        if replies is not None:
            replies.stop()
        self.driver.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def get_transport(
    url: str = DEFAULT_URL,
    *,
    bus: TraceBus | None = None,
    origin: Origin | None = None,
    rpc_response_timeout: float = DEFAULT_RPC_TIMEOUT,
) -> Transport:
    return Transport(
        make_driver(url), bus=bus, origin=origin, rpc_response_timeout=rpc_response_timeout
    )


def delivery_body(delivery: Delivery) -> bytes:
    body = delivery.body
    return body.encode() if isinstance(body, str) else body
