"""The wire format of an RPC message, exactly as oslo.messaging writes it (envelope 2.0).

A request body is ``{"oslo.version": "2.0", "oslo.message": "<json>"}``; inside the JSON:
``method``, ``args``, optional ``version``/``namespace``, ``_unique_id``, one
``_context_<key>`` per context field, and for calls ``_msg_id``, ``_reply_q``, ``_timeout``.
A reply (enveloped the same way) is ``{"result", "failure", "ending", "_msg_id"}``, where
``failure`` is a JSON string naming the exception's class and module. Arguments are
serialized as oslo.serialization's ``jsonutils.dumps`` does (``jsoncodec.to_primitive``).
"""

from __future__ import annotations

import importlib
import json
import traceback
from collections.abc import Mapping
from typing import Any

from labcloud.context import RequestContext, uuid4_hex
from labcloud.exceptions import LabCloudError
from labcloud.messaging import jsoncodec
from labcloud.messaging.exceptions import InvalidMessage, RemoteError
from labcloud.messaging.jsoncodec import dumps, loads

VERSION_KEY = "oslo.version"
MESSAGE_KEY = "oslo.message"
ENVELOPE_VERSION = "2.0"
CONTEXT_PREFIX = "_context_"  # a request's context fields: _context_user_id ...
# the other fields of a request (and of a call), none of them a context field
REQUEST_FIELDS = frozenset(
    ("method", "args", "namespace", "version", "_unique_id", "_msg_id", "_reply_q", "_timeout")
)
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
# Only exceptions from these modules are rebuilt as themselves; others become RemoteError
# (oslo.messaging's allowed_remote_exmods, for the same reason: no arbitrary imports).
ALLOWED_EXCEPTION_PREFIX = "labcloud."


# a message id as oslo's (``uuid.uuid4().hex``), without uuid4's system call
new_id = uuid4_hex


def pack(msg: Mapping[str, Any]) -> bytes:
    """Wrap a message dict in the 2.0 envelope and encode it."""
    return jsoncodec.wrap(dumps(msg))


def unpack(body: bytes | str) -> dict[str, Any]:
    """Decode a body into the message dict; raise InvalidMessage for anything else."""
    text = jsoncodec.unwrap(body)
    if text is not None:  # the envelope as oslo writes it: only the message is decoded
        try:
            inner = loads(text)
        except ValueError:
            pass  # the general path below says what is wrong
        except RecursionError:
            raise InvalidMessage(reason=f"{MESSAGE_KEY} is nested too deeply to decode") from None
        else:
            if isinstance(inner, dict):
                return inner
    return _unpack(body)


def _unpack(body: bytes | str) -> dict[str, Any]:
    try:
        outer = loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessage(reason=f"body is not JSON ({exc})") from None
    except RecursionError:  # e.g. 100,000 nested '[': json gives up, and so do we
        raise InvalidMessage(reason="body is nested too deeply to decode") from None
    if not isinstance(outer, dict):
        raise InvalidMessage(reason=f"body is a JSON {type(outer).__name__}, not an object")
    if VERSION_KEY not in outer:
        return outer  # oslo accepts un-enveloped messages too (notifications, old clients)
    if outer[VERSION_KEY] != ENVELOPE_VERSION:
        raise InvalidMessage(reason=f"unsupported envelope version {outer[VERSION_KEY]!r}")
    try:
        inner = loads(outer[MESSAGE_KEY])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidMessage(reason=f"bad {MESSAGE_KEY} ({exc})") from None
    except RecursionError:
        raise InvalidMessage(reason=f"{MESSAGE_KEY} is nested too deeply to decode") from None
    if not isinstance(inner, dict):
        raise InvalidMessage(reason=f"{MESSAGE_KEY} is not an object")
    return inner


def context_dict(ctxt: RequestContext | Mapping[str, Any] | None) -> dict[str, Any]:
    if ctxt is None:
        return {}
    if isinstance(ctxt, RequestContext):
        return ctxt.to_dict()
    return dict(ctxt)


def request(
    method: str,
    args: Mapping[str, Any],
    ctxt: RequestContext | Mapping[str, Any] | None,
    *,
    version: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The message dict of a call or cast (call fields are added by the client)."""
    msg: dict[str, Any] = {"method": method, "args": dict(args)}
    if namespace is not None:
        msg["namespace"] = namespace
    if version is not None:
        msg["version"] = version
    msg["_unique_id"] = new_id()
    for key, value in context_dict(ctxt).items():
        msg[CONTEXT_PREFIX + key] = value
    return msg


def request_context(msg: Mapping[str, Any]) -> RequestContext:
    """The context of a request, read from its ``_context_*`` fields where they are: what
    ``RequestContext.from_dict(context_fields(msg))`` gives, without that dict first."""
    return RequestContext.from_dict(msg, prefix=CONTEXT_PREFIX, others=REQUEST_FIELDS)


def context_fields(msg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``_context_*`` fields of a request, without their prefix."""
    return {k[9:]: v for k, v in msg.items() if k[:9] == "_context_"}


def split_context(msg: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate ``_context_*`` fields from the rest of a request."""
    rest = {k: v for k, v in msg.items() if not k.startswith(CONTEXT_PREFIX)}
    return context_fields(msg), rest


def reply(msg_id: str, result: Any = None, failure: str | None = None) -> dict[str, Any]:
    return {
        "result": result,
        "failure": failure,
        "ending": True,
        "_msg_id": msg_id,
        "_unique_id": new_id(),
    }


def serialize_failure(exc: BaseException) -> str:
    """The failure field of a reply, in oslo.messaging's form."""
    cls = type(exc)
    data = {
        "class": cls.__name__,
        "module": cls.__module__,
        "message": str(exc),
        "tb": traceback.format_exception(exc),
        "args": list(exc.args),
        "kwargs": getattr(exc, "kwargs", {}) or {},
    }
    try:
        return dumps(data)
    except ValueError:  # an argument JSON cannot hold: the caller still gets the error
        data["args"], data["kwargs"] = [str(a) for a in exc.args], {}
        return dumps(data)


def deserialize_failure(failure: str | Mapping[str, Any]) -> Exception:
    """Rebuild a labcloud exception as itself; anything else becomes a RemoteError."""
    try:
        data = json.loads(failure) if isinstance(failure, str) else dict(failure)
    except ValueError:
        return RemoteError("Unknown", str(failure), "")
    name = str(data.get("class", "Exception"))
    module = str(data.get("module", ""))
    message = str(data.get("message", ""))
    tb = "".join(data.get("tb") or [])
    if module.startswith(ALLOWED_EXCEPTION_PREFIX):
        rebuilt = _rebuild(module, name, data)
        if rebuilt is not None:
            return rebuilt
    return RemoteError(name, message, tb)


def _rebuild(module: str, name: str, data: Mapping[str, Any]) -> Exception | None:
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    if not (isinstance(cls, type) and issubclass(cls, LabCloudError)):
        return None
    try:
        exc = cls(*data.get("args", []), **data.get("kwargs", {}))
    except TypeError:
        return None
    return exc
