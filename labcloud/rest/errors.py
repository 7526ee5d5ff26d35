"""Errors as each OpenStack project writes them in its HTTP answers, from one translation.

nova and cinder: ``{"itemNotFound": {"message": ..., "code": 404}}``; neutron:
``{"NeutronError": {"type": ..., "message": ..., "detail": ""}}``; keystone:
``{"error": {"code": 404, "title": "Not Found", "message": ...}}``; glance, as webob's JSON
error pages: ``{"message": ..., "code": "404 Not Found", "title": "Not Found"}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StatementError,
)

ErrorBody = Callable[[int, str, str], dict[str, Any]]

NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_body(status: int, kind: str, message: str) -> dict[str, Any]:
    name = NOVA_FAULT_NAMES.get(status, "computeFault")
    return {name: {"message": message, "code": status}}


def neutron_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


def keystone_body(status: int, kind: str, message: str) -> dict[str, Any]:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"error": {"code": status, "title": title, "message": message}}


def glance_body(status: int, kind: str, message: str) -> dict[str, Any]:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"message": message, "code": f"{status} {title}", "title": title}


STYLES: dict[str, ErrorBody] = {
    "nova": nova_body,
    "cinder": nova_body,
    "neutron": neutron_body,
    "keystone": keystone_body,
    "glance": glance_body,
}


# a driver refusing to bind a value (a list, a dict): SQLite's and psycopg's words for it
UNBINDABLE = re.compile(r"Error binding parameter|type '\w+' is not supported|cannot adapt")


def database_error(exc: Exception) -> tuple[int, str, str] | None:
    """(status, kind, message) for a database error the API's validation let through, or
    None for one that is the cloud's fault (a 500). A value the database cannot hold (too
    long, out of range, of another type, a NUL byte) is the request's fault: 400; a
    duplicate a conflict: 409. A safety net: each API validates its input at its edge.
    A database that cannot be reached (stopped, restarting, a connection it dropped) is
    503, so a client retries: the pool makes new connections once the server is back."""
    if unreachable(exc):
        return 503, "ServiceUnavailable", "The service's database is unavailable: retry later."
    if isinstance(exc, IntegrityError):
        return 409, "Conflict", "The request conflicts with an existing resource."
    bad_value = (
        isinstance(exc, DataError | OverflowError)
        or (isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
            and isinstance(exc.orig, TypeError | ValueError | OverflowError))
        or (isinstance(exc, ProgrammingError) and bool(UNBINDABLE.search(str(exc.orig))))
    )  # fmt: skip
    if bad_value:
        return 400, "HTTPBadRequest", "Invalid input for this request: a value is out of range."
    return None


def unreachable(exc: BaseException) -> bool:
    """The database server is gone, not the statement wrong: refused or dropped connections
    (psycopg and SQLite say OperationalError; a closed connection InterfaceError)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError) and not _from_sqlite(exc)


def _from_sqlite(exc: DBAPIError) -> bool:
    """SQLite's OperationalErrors (a locked file, a missing table) are the cloud's own: 500."""
    return type(exc.orig).__module__.startswith("sqlite3")
