"""The wire format, byte for byte where oslo.messaging fixes it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.exceptions import InstanceNotFound, NoValidHost
from labcloud.messaging import envelope
from labcloud.messaging.exceptions import InvalidMessage, RemoteError


def test_request_is_wrapped_in_the_2_0_envelope() -> None:
    ctxt = RequestContext(user_id="u", project_id="p", request_id="req-1")
    msg = envelope.request("select_destinations", {"spec": {"vcpus": 1}}, ctxt, version="4.0")
    outer = json.loads(envelope.pack(msg))
    assert set(outer) == {"oslo.version", "oslo.message"}
    assert outer["oslo.version"] == "2.0"
    inner = json.loads(outer["oslo.message"])
    assert inner["method"] == "select_destinations"
    assert inner["args"] == {"spec": {"vcpus": 1}}
    assert inner["version"] == "4.0"
    assert len(inner["_unique_id"]) == 32
    assert inner["_context_user_id"] == "u"
    assert inner["_context_request_id"] == "req-1"
    assert envelope.unpack(envelope.pack(msg)) == inner


def test_context_round_trips_through_the_message() -> None:
    ctxt = RequestContext(user_id="u", project_id="p", roles=("admin",), is_admin=True)
    fields, rest = envelope.split_context(envelope.request("m", {}, ctxt))
    assert RequestContext.from_dict(fields) == ctxt
    assert not any(k.startswith("_context_") for k in rest)


def test_unenveloped_dicts_are_accepted_like_oslo_does() -> None:
    assert envelope.unpack(b'{"method": "m", "args": {}}') == {"method": "m", "args": {}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'{"oslo.version": "9.9", "oslo.message": "{}"}', "unsupported envelope version"),
        (b'{"oslo.version": "2.0", "oslo.message": "nope"}', "bad oslo.message"),
        (b'{"oslo.version": "2.0", "oslo.message": "[]"}', "not an object"),
    ],
)
def test_foreign_bodies_raise_invalid_message(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        envelope.unpack(body)


def test_reply_has_oslo_fields() -> None:
    reply = envelope.reply("abc", result=[1, 2])
    assert reply["result"] == [1, 2]
    assert reply["failure"] is None
    assert reply["ending"] is True
    assert reply["_msg_id"] == "abc"


def test_labcloud_exceptions_are_rebuilt_with_their_kwargs() -> None:
    for exc in (NoValidHost(reason="no room"), InstanceNotFound(instance_id="i-1")):
        rebuilt = envelope.deserialize_failure(envelope.serialize_failure(exc))
        assert type(rebuilt) is type(exc)
        assert str(rebuilt) == str(exc)
        assert rebuilt.kwargs == exc.kwargs  # type: ignore[attr-defined]


def test_foreign_exceptions_become_remote_errors_naming_class_and_message() -> None:
    try:
        raise KeyError("flavor")
    except KeyError as exc:
        failure = envelope.serialize_failure(exc)
    data = json.loads(failure)
    assert data["class"] == "KeyError"
    assert data["module"] == "builtins"
    assert data["tb"]
    rebuilt = envelope.deserialize_failure(failure)
    assert isinstance(rebuilt, RemoteError)
    assert rebuilt.exc_type == "KeyError"
    assert "flavor" in str(rebuilt)
    assert "Traceback" in rebuilt.traceback


def test_no_arbitrary_imports_from_a_failure() -> None:
    failure = json.dumps({"class": "system", "module": "os", "message": "x", "args": ["ls"]})
    assert isinstance(envelope.deserialize_failure(failure), RemoteError)
    fake = json.dumps({"class": "Path", "module": "labcloud.nothing_here", "message": "x"})
    assert isinstance(envelope.deserialize_failure(fake), RemoteError)


def test_arguments_are_serialized_as_oslo_jsonutils_does() -> None:
    import datetime
    import decimal
    import ipaddress
    import uuid

    args = {
        "tags": {"b", "a"},
        "raw": b"bytes",
        "at": datetime.datetime(2026, 11, 24, 8, 0, 1, 5),
        "day": datetime.date(2026, 11, 24),
        "id": uuid.UUID(int=1),
        "price": decimal.Decimal("1.50"),
        "ip": ipaddress.ip_address("10.0.0.2"),
        "pair": (1, 2),
        "error": ValueError("bad"),
    }
    inner = json.loads(json.loads(envelope.pack({"method": "m", "args": args}))["oslo.message"])
    got = inner["args"]
    assert sorted(got["tags"]) == ["a", "b"]
    assert got["raw"] == "bytes"
    assert got["at"] == "2026-11-24T08:00:01.000005"  # ISO 8601 with microseconds, no zone
    assert got["day"] == "2026-11-24"
    assert got["id"] == "00000000-0000-0000-0000-000000000001"
    assert (got["price"], got["ip"], got["pair"]) == ("1.50", "10.0.0.2", [1, 2])
    assert got["error"] == "ValueError('bad')"


def test_an_object_json_cannot_hold_is_refused_as_oslo_refuses_it() -> None:
    class Opaque:
        pass

    with pytest.raises(ValueError, match="Cannot convert"):
        envelope.pack({"method": "m", "args": {"x": Opaque()}})


def test_the_same_bytes_as_oslo_serialization() -> None:
    import datetime

    from tests.conftest import require

    try:
        from oslo_serialization import jsonutils
    except ImportError:  # pragma: no cover - only without the test extra
        jsonutils = None
    require(jsonutils is not None, "oslo.serialization is not installed (the test extra)")
    msg = {"args": {"s": {3}, "b": b"x", "t": datetime.datetime(2026, 1, 2, 3, 4, 5, 6)}}
    assert envelope.dumps(msg) == jsonutils.dumps(msg)


def test_unknown_context_keys_survive_a_round_trip() -> None:
    wire = {"_context_read_deleted": "no", "_context_user_id": "u", "method": "m"}
    fields, _ = envelope.split_context(wire)
    ctxt = RequestContext.from_dict(fields)
    assert ctxt.extra == {"read_deleted": "no"}
    again = envelope.request("m", {}, ctxt)
    assert again["_context_read_deleted"] == "no"
    assert again["_context_user_id"] == "u"


def test_a_body_nested_too_deeply_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessage, match="nested too deeply"):
        envelope.unpack(b"[" * 100_000)
    inner = json.dumps("[" * 100_000)
    with pytest.raises(InvalidMessage, match="nested too deeply"):
        envelope.unpack(f'{{"oslo.version": "2.0", "oslo.message": {inner}}}'.encode())


def test_message_ids_are_uuid4s_that_a_seeded_global_random_does_not_repeat() -> None:
    """A server drops a message whose _unique_id it has seen: a seed given to the global
    random module (a lab's random.seed, hypothesis in a test) must not make ids repeat."""
    import random
    import uuid

    random.seed(0)
    first = [envelope.new_id() for _ in range(3)]
    random.seed(0)
    again = [envelope.new_id() for _ in range(3)]
    assert not set(first) & set(again)
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).hex == i for i in first + again)


def test_a_context_rebuilt_from_the_wire_is_the_one_sent() -> None:
    ctxt = RequestContext(
        user_id="u",
        project_id="p",
        user_name="demo",
        project_name="demo-project",
        roles=("admin", "member"),
        is_admin=True,
        auth_token="tok",
        request_id="req-1",
        global_request_id="req-0",
        extra={"read_deleted": "no"},
    )
    again = RequestContext.from_dict(ctxt.to_dict())
    assert vars(again) == vars(ctxt)  # every field, as the dataclass's __init__ sets them
    assert again == ctxt
    assert hash(again) == hash(ctxt)
    assert envelope.unpack(envelope.pack({"ctxt": ctxt.to_dict()})) == {"ctxt": ctxt.to_dict()}


def test_the_envelope_is_byte_for_byte_what_json_dumps_writes() -> None:
    msg = {"method": "m", "args": {"name": 'é "quoted" \\ \n', "n": [1, 2.5, None, True]}}
    expected = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(msg)}).encode()
    assert envelope.pack(msg) == expected
    assert envelope.unpack(expected) == msg


@pytest.mark.parametrize(
    "body",
    [
        b' {"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}"} ',  # whitespace around
        b'{"oslo.message": "{\\"a\\": 1}", "oslo.version": "2.0"}',  # keys the other way
        b'{"oslo.version": "2.0", "oslo.message": " {\\"a\\": 1}\\n"}',
        b'\xef\xbb\xbf{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}"}',  # a BOM
        '{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}"}'.encode("utf-16"),
        '{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}"}',  # a str
    ],
)
def test_bodies_json_reads_decode_as_json_reads_them(body: bytes | str) -> None:
    assert envelope.unpack(body) == {"a": 1}


@pytest.mark.parametrize(
    "body",
    [
        b'{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}", "x": 1}',
        b'{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1} 2"}',
        b'{"oslo.version": "2.0", "oslo.message": "{\\"a\\": 1}"} 2',
        b'{"oslo.version": "2.0", "oslo.message": "\\x"}',
    ],
)
def test_what_json_refuses_is_refused_or_read_as_json_reads_it(body: bytes) -> None:
    try:
        expected: object = json.loads(json.loads(body)["oslo.message"])
    except ValueError:
        expected = InvalidMessage
    if expected is InvalidMessage:
        with pytest.raises(InvalidMessage):
            envelope.unpack(body)
    else:
        assert envelope.unpack(body) == expected


@pytest.mark.parametrize(
    "value",
    ["text é \x7f", 1.5, float("inf"), [], {"k": [{"n": None}, 2**70, -0.0]}, {1: "int key"}],
)
def test_dumps_writes_what_json_dumps_writes(value: object) -> None:
    from labcloud.messaging.jsoncodec import dumps, to_primitive

    assert dumps(value) == json.dumps(value, default=to_primitive)


def test_a_value_that_failed_to_encode_encodes_once_fixed() -> None:
    """The thread's encoder remembers the containers it is inside (to find circular ones):
    a failure inside one must not make the next encode of it look circular."""

    class Opaque:
        pass

    value: dict[str, object] = {"ok": [1, {"x": 2}], "bad": Opaque()}
    with pytest.raises(ValueError, match="Cannot convert"):
        envelope.dumps(value)
    del value["bad"]
    assert envelope.dumps(value) == json.dumps(value)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        envelope.dumps(loop)
    assert envelope.dumps([loop[:0]]) == "[[]]"


def test_one_value_encodes_in_two_threads_at_once() -> None:
    """Each thread has its own encoder: a dict one thread is inside of (a set in it is
    converted by Python code, where threads switch) is no circular reference to another."""
    import sys
    import threading

    shared = {"args": [{"n": i, "hosts": {f"h{i}"}} for i in range(50)]}
    expected = json.dumps(shared, default=sorted)
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def encode() -> None:
        for _ in range(100):
            try:
                assert envelope.dumps(shared) == expected
            except BaseException as exc:  # reported by the test's thread
                errors.append(exc)

    try:
        threads = [threading.Thread(target=encode) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


@pytest.mark.parametrize(
    "wire",
    [
        {"method": "m", "args": {}, "_unique_id": "x"},
        {"_context_user": "u", "_context_tenant": "p", "_context_request_id": "", "method": "m"},
        {
            "_context_read_deleted": "no",
            "_context_user_id": "u",
            "_context_roles": ("a", 1),
            "_context_extra": {"not": "extra"},
            "_context_": "empty name",
            "context_user_id": "not a context field",
            "_msg_id": "1",
            "_context_is_admin": 1,
            "_context_service_catalog": [{"type": "image"}],
        },
    ],
)
def test_a_context_read_from_a_message_is_the_one_read_from_its_fields(
    wire: dict[str, Any],
) -> None:
    """request_context(msg) reads the _context_ fields in place, as from_dict reads the
    dict of those fields: same fields, same extra (in the same order)."""
    fields = envelope.context_fields(wire)
    from_fields = RequestContext.from_dict(fields)
    in_place = envelope.request_context(wire)
    if not fields.get("request_id"):  # a new one each time: compare the rest
        assert in_place.request_id.startswith("req-")
        in_place = replace(in_place, request_id=from_fields.request_id)
    assert in_place == from_fields
    assert list(in_place.extra.items()) == list(from_fields.extra.items())
    assert "extra" not in in_place.extra


def test_a_context_with_bad_roles_is_refused_in_place_too() -> None:
    with pytest.raises(TypeError):
        envelope.request_context({"_context_roles": "admin"})
