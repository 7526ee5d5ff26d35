"""The wire format, byte for byte where oslo.messaging fixes it."""

from __future__ import annotations

import json

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
