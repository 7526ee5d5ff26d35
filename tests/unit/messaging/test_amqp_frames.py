"""The RabbitMQ driver's publish writes the frames py-amqp's own basic_publish writes.

The driver encodes a message's properties and its Basic.Publish arguments once per
property set and per address instead of once per message: the bytes on the wire must stay
those of py-amqp (and so of kombu and oslo.messaging). Nothing here talks to a broker.
"""

from __future__ import annotations

from typing import Any

import amqp
import amqp.spec
import pytest
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from labcloud.messaging.amqpframes import Message, properties, property_key, publish_args


class _Wire:
    """A connection and transport that only collect what py-amqp's frame writer writes."""

    frame_max = 131072
    bytes_sent = 0

    def __init__(self) -> None:
        self.out = bytearray()
        self.write = lambda data: self.out.extend(bytes(data))


def _frames(args: bytes, message: Any) -> bytes:
    wire = _Wire()
    frame_writer(wire, wire)(1, 1, amqp.spec.Basic.Publish, args, message)
    return bytes(wire.out)


@pytest.mark.parametrize(
    ("props", "exchange", "key", "mandatory"),
    [
        ({}, "nova", "compute.node1", True),
        ({"expiration": 60.0}, "nova", "conductor", True),
        ({"expiration": 0.5}, "", "reply_0123456789abcdef", True),
        ({}, "compute_fanout", "", False),
    ],
)
def test_publish_frames_are_py_amqps(
    props: dict[str, Any], exchange: str, key: str, mandatory: bool
) -> None:
    body = b'{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"noop\\"}"}'
    expiration = props.get("expiration")
    extra = {"expiration": str(int(expiration * 1000))} if expiration else {}
    theirs = amqp.Message(  # what the driver wrote before, as kombu's prepare_message does
        body,
        priority=0,
        content_type="application/json",
        content_encoding="utf-8",
        application_headers={},
        delivery_mode=2,
        **extra,
    )
    their_args = dumps("Bssbb", (0, exchange, key, mandatory, False))
    ours = Message(body, properties(property_key(props)))
    assert _frames(publish_args(exchange, key, mandatory), ours) == _frames(their_args, theirs)
    assert ours.properties == theirs.properties


def test_encoded_properties_are_found_once_per_property_set() -> None:
    assert properties(property_key({})) is properties(property_key({}))
    assert properties(property_key({"expiration": 2.0}))[0]["expiration"] == "2000"


def test_an_ack_is_py_amqps_basic_ack() -> None:
    from labcloud.messaging.amqpframes import ACK, ACK_ARGS

    for tag in (1, 2**40 + 7):
        ours = _frames_of(ACK, ACK_ARGS.pack(tag, 0))
        assert ours == _frames_of(ACK, dumps("Lb", (tag, False)))


def _frames_of(method: tuple[int, int], args: bytes) -> bytes:
    wire = _Wire()
    frame_writer(wire, wire)(1, 1, method, args, None)
    return bytes(wire.out)
