"""py-amqp's frames, with what is the same for every message done once.

A cast writes three frames (Basic.Publish, its header, its body) and reads one (the
broker's confirm); a server reads three per message and writes one (its ack). py-amqp
encodes a message's properties and a method's arguments anew for each, makes a promise per
method sent, and enters a context manager per frame read to set the socket's timeout. Here
the properties and the Basic.Publish arguments are encoded once per property set and per
address, methods go straight to the connection's frame writer, and frames are read into the
connection's own frame handler on a socket whose timeout is set already. The bytes on the
wire are py-amqp's (tests/unit/messaging/test_amqp_frames.py compares them frame by frame).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

import amqp
import amqp.exceptions
import amqp.serialization
import amqp.spec

from labcloud.messaging.driver import PropertyMap

ACK, NACK = amqp.spec.Basic.Ack, amqp.spec.Basic.Nack
PUBLISH = amqp.spec.Basic.Publish
PERSISTENT = 2  # AMQP delivery_mode, as kombu (and so oslo) sends every message
ACK_ARGS = struct.Struct(">QB")  # delivery-tag, multiple=False: py-amqp's encoding of "Lb"


def write_method(channel: Any, method: tuple[int, int], args: bytes, content: Any = None) -> None:
    """py-amqp's ``channel.send_method`` for arguments encoded already (its frames, to the
    connection's frame writer), less the promise it makes for a method nobody waits on."""
    conn = channel.connection
    if conn is None:
        raise amqp.exceptions.RecoverableConnectionError("connection already closed")
    try:
        conn.frame_writer(1, channel.channel_id, method, args, content)
    except StopIteration:  # as py-amqp's: the writer is gone with its socket
        raise amqp.exceptions.RecoverableConnectionError("connection already closed") from None


def ack(channel: Any, delivery_tag: int) -> None:
    """``channel.basic_ack(delivery_tag)``, its two arguments packed by one struct."""
    write_method(channel, ACK, ACK_ARGS.pack(delivery_tag, 0))


def drainer(conn: Any) -> Callable[[], None]:
    """``conn.drain_events`` for a connection whose socket has its read timeout set already
    (a consumer's DRAIN_TIMEOUT, see _consume; a publish's deadline): py-amqp's own loop,
    reading frames into the connection's frame handler until a whole method came in,
    without the context manager it enters for every frame to set a timeout that is set."""
    connection = conn.connection  # py-amqp's, under kombu's
    read_frame, on_frame = connection.transport.read_frame, connection.on_inbound_frame

    def drain() -> None:
        while not on_frame(read_frame()):
            pass

    return drain


PropertyKey = tuple[str, str, int, str | None]  # content type, encoding, delivery mode, expiration


def property_key(props: PropertyMap) -> PropertyKey:
    """What sets a message's properties apart (expiration: milliseconds, as AMQP has it)."""
    if not props:
        return ("application/json", "utf-8", PERSISTENT, None)
    expiration = props.get("expiration")
    return (
        props.get("content_type", "application/json"),
        props.get("content_encoding", "utf-8"),
        props.get("delivery_mode", PERSISTENT),
        str(int(expiration * 1000)) if expiration else None,
    )


@functools.lru_cache(maxsize=256)
def properties(key: PropertyKey) -> tuple[dict[str, Any], bytes]:
    """The properties kombu's prepare_message would set, and py-amqp's encoding of them
    (the frame header's flags and values), found once per property set."""
    content_type, content_encoding, delivery_mode, expiration = key
    props: dict[str, Any] = {
        "priority": 0,
        "content_type": content_type,
        "content_encoding": content_encoding,
        "application_headers": {},
        "delivery_mode": delivery_mode,
    }
    if expiration is not None:
        props["expiration"] = expiration
    return props, amqp.Message(b"", **props)._serialize_properties()


@functools.lru_cache(maxsize=4096)
def publish_args(exchange: str, key: str, mandatory: bool) -> bytes:
    """Basic.Publish's arguments as py-amqp's send_method encodes them, once per address."""
    return amqp.serialization.dumps("Bssbb", (0, exchange, key, mandatory, False))  # type: ignore[no-any-return]


class Message(amqp.Message):  # type: ignore[misc]  # py-amqp has no type hints
    """A message whose properties were encoded before (py-amqp encodes them per publish)."""

    def __init__(self, body: bytes, properties: tuple[dict[str, Any], bytes]) -> None:
        props, self._encoded = properties
        super().__init__(body, **props)

    def _serialize_properties(self) -> bytes:
        return self._encoded
