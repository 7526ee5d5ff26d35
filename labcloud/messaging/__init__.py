"""oslo.messaging-shaped RPC on kombu: RabbitMQ (``amqp://``) or the in-process ``memory://``.

The pieces, each in its own module:

- ``transport``: ``get_transport(url)``; a Transport holds a driver, the trace tap and the
  process's reply queue.
- ``target``, ``topology``: where messages go, with oslo.messaging's exact names and flags.
- ``client`` (``RPCClient``: call, cast, prepare) and ``server`` (``RPCServer``).
- ``envelope``: the wire format; ``dispatcher``: from method name to endpoint method.
- ``driver`` (the interface), ``amqp`` (RabbitMQ via kombu), ``memory`` (in-process broker).
- ``tap``, ``remote``: trace events, locally and across processes (``labcloud.trace``).
- ``brokerview``, ``rabbitview``: snapshots of exchanges, queues and bindings.

labcloud leaves out oslo.messaging's notifications and RPC versioning negotiation (it checks
an endpoint's version, never caps a client's).
"""

from labcloud.messaging.client import RPCClient
from labcloud.messaging.exceptions import (
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingError,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
)
from labcloud.messaging.server import RPCServer
from labcloud.messaging.target import Target
from labcloud.messaging.transport import Transport, get_transport

__all__ = [
    "MessageDeliveryFailure",
    "MessageUndeliverable",
    "MessagingError",
    "MessagingTimeout",
    "NoSuchMethod",
    "RPCClient",
    "RPCServer",
    "RemoteError",
    "Target",
    "Transport",
    "get_transport",
]
