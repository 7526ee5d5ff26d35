"""JSON as oslo.serialization's ``jsonutils`` writes it, and the 2.0 envelope's two layers.

``dumps`` is ``jsonutils.dumps`` (``json.dumps`` with ``to_primitive`` for what JSON cannot
hold); ``wrap``/``unwrap`` put a message's JSON text into the envelope and take it out. The
encoder and decoder are made once and called directly: ``json.dumps(default=...)`` builds
a new encoder per call, and ``json.loads`` goes through three layers of Python before its C
scanner, for every RPC message. The bytes and the values are those of ``json``.
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import io
import ipaddress
import itertools
import json
import threading
import uuid
from collections.abc import Callable
from json import decoder
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

PERFECT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # oslo_utils.timeutils: ISO 8601, microseconds
_SIMPLE = (str, int, type(None), bool, float)
_NASTY = (
    inspect.ismodule,
    inspect.isclass,
    inspect.ismethod,
    inspect.isfunction,
    inspect.isgeneratorfunction,
    inspect.isgenerator,
    inspect.istraceback,
    inspect.isframe,
    inspect.iscode,
    inspect.isbuiltin,
    inspect.isroutine,
    inspect.isabstract,
)
# json.dumps({"oslo.version": "2.0", "oslo.message": text}) is this, the text, and "}"
ENVELOPE_HEAD = '{"oslo.version": "2.0", "oslo.message": '
_HEAD = ENVELOPE_HEAD + '"'  # and the opening quote of the message's JSON text


def to_primitive(value: Any, level: int = 0, max_depth: int = 3) -> Any:
    """What oslo.serialization's ``jsonutils.to_primitive`` makes of a value JSON cannot hold.

    >>> to_primitive({1, 2}), to_primitive(b"abc")
    ([1, 2], 'abc')
    >>> to_primitive(datetime.datetime(2026, 11, 24, 8, 0, 1))
    '2026-11-24T08:00:01.000000'
    """
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, datetime.datetime):
        return value.strftime(PERFECT_TIME_FORMAT)
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Exception):
        return repr(value)
    if type(value) is itertools.count or any(test(value) for test in _NASTY):
        return str(value)
    if level > max_depth:
        return None
    try:
        if isinstance(value, dict):
            return {to_primitive(k, level): to_primitive(v, level) for k, v in value.items()}
        if hasattr(value, "items"):
            return to_primitive(dict(value.items()), level + 1)
        if hasattr(value, "__iter__") and not isinstance(value, io.IOBase):
            return [to_primitive(v, level) for v in value]
    except TypeError:
        return str(value)
    raise ValueError(f"Cannot convert {value!r} to primitive")


# json.dumps's own defaults with jsonutils' default=: the C encoder JSONEncoder.encode makes
# anew for each value, made once per thread (its ``markers`` dict, which finds circular
# references, is the thread's own: a value may be encoded in two threads at once)
_THREAD = threading.local()
# the C functions json.loads ends in (typeshed leaves them out: they are not json's API)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SCANSTRING: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]


def _c_encoder() -> Callable[[Any, int], list[str]]:
    """What ``json.JSONEncoder(default=to_primitive).encode`` calls, with its arguments."""
    make: Any = c_make_encoder
    return make({}, to_primitive, encode_basestring_ascii, None, ": ", ", ", False, False, True)  # type: ignore[no-any-return]


def dumps(value: Any) -> str:
    """``jsonutils.dumps``: JSON, with ``to_primitive`` for what JSON cannot hold."""
    encode = getattr(_THREAD, "encode", None)
    if encode is None:
        encode = _THREAD.encode = _c_encoder()
    try:
        return "".join(encode(value, 0))
    except BaseException:  # markers may be left behind: a new encoder for the next value
        _THREAD.encode = None
        raise


def loads(data: str | bytes) -> Any:
    """``json.loads``: the scanner is called directly when ``data`` is one UTF-8 JSON value
    with nothing around it (what oslo and labcloud write); anything else, including every
    error, takes ``json.loads`` itself, so the value or the error is json's."""
    if isinstance(data, str | bytes):
        try:
            text = data.decode() if isinstance(data, bytes) else data
            value, end = _SCAN(text, 0)
            if end == len(text):
                return value
        except (StopIteration, ValueError):  # no value at 0, not UTF-8 (UTF-16...), bad JSON
            pass
    return json.loads(data)


def wrap(text: str) -> bytes:
    """The envelope around a message's JSON text: ``json.dumps`` of the two-key dict."""
    return f"{ENVELOPE_HEAD}{encode_basestring_ascii(text)}}}".encode()


def unwrap(body: str | bytes) -> str | None:
    """The message's JSON text when ``body`` is exactly the envelope ``wrap`` writes (one
    string read by json's own scanner, no dict built); None for any other body."""
    try:
        text = body.decode() if isinstance(body, bytes) else body
        if not (text.startswith(_HEAD) and text.endswith("}")):
            return None
        inner, end = _SCANSTRING(text, len(_HEAD))
    except ValueError:  # bad UTF-8, a bad escape or control character: json's errors
        return None
    return inner if end == len(text) - 1 else None
