"""Errors as each OpenStack project writes them in its HTTP answers, from one translation.

nova and cinder: ``{"itemNotFound": {"message": ..., "code": 404}}``; neutron:
``{"NeutronError": {"type": ..., "message": ..., "detail": ""}}``; keystone and glance:
``{"error": {"code": 404, "title": "Not Found", "message": ...}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

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
    501: "notImplemented",
}


def nova_body(status: int, kind: str, message: str) -> dict[str, Any]:
    name = NOVA_FAULT_NAMES.get(status, "computeFault")
    return {name: {"message": message, "code": status}}


def neutron_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


def keystone_body(status: int, kind: str, message: str) -> dict[str, Any]:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"error": {"code": status, "title": title, "message": message}}


STYLES: dict[str, ErrorBody] = {
    "nova": nova_body,
    "cinder": nova_body,
    "neutron": neutron_body,
    "keystone": keystone_body,
    "glance": keystone_body,
}
