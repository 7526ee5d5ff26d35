"""The version document, ``/v2.0``'s resource list and the extensions a client asks for
before it uses one (openstacksdk checks ``router``, ``security-group``, ``external-net``...)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from labcloud.exceptions import NotFound
from labcloud.network.api.deps import Ctxt

router = APIRouter(tags=["discovery"])
RESOURCES = (
    "network",
    "subnet",
    "port",
    "security_group",
    "security_group_rule",
    "router",
    "floatingip",
)
EXTENSIONS = [
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("external-net", "Neutron external network", "Adds external network attribute to network"),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions"),
    ("agent", "agent", "The agent management extension."),
    ("security-group", "security-group", "The security groups extension."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat"),
    ("stateful-security-group", "Stateful security group", "Stateful or stateless groups"),
]


class ExtensionNotFound(NotFound):
    msg_fmt = "Extension with alias %(alias)s does not exist"


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "links": [],
        "updated": "2013-01-20T00:00:00-00:00",
    }


@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    href = f"{str(request.base_url).rstrip('/')}/v2.0/"
    link = {"href": href, "rel": "self"}
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]}


@router.get("/v2.0")
@router.get("/v2.0/")
def resources(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "resources": [
            {
                "name": name,
                "collection": (plural := name.replace("_", "-") + "s"),
                "links": [{"href": f"{base}/v2.0/{plural}", "rel": "self"}],
            }
            for name in RESOURCES
        ]
    }


@router.get("/v2.0/extensions")
def extensions(_: Ctxt) -> dict[str, Any]:
    return {"extensions": [_extension(*e) for e in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
def one_extension(alias: str, _: Ctxt) -> dict[str, Any]:
    for e in EXTENSIONS:
        if e[0] == alias:
            return {"extension": _extension(*e)}
    raise ExtensionNotFound(alias=alias[:64])
