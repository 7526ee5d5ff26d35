"""neutron-server's REST API, ``/v2.0``: networks, subnets, ports and the extension list.

Each resource takes ``{"network": {...}}`` (or a bulk ``{"networks": [...]}``), lists as
``{"networks": [...]}`` filtered by any attribute in the query string, and shows one as
``{"network": {...}}``. Unknown attributes in a request are ignored.
"""

# No "from __future__ import annotations": FastAPI must see the closures' Depends().
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, NotFound
from labcloud.network.manager import NetworkManager
from labcloud.network.ports import PortManager
from labcloud.rest.app import create_app
from labcloud.rest.auth import TokenValidator, require_token

EXTENSIONS = [
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("external-net", "Neutron external network", "Adds external network attribute to network"),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions"),
]


def _one(body: Any, singular: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise Invalid("Invalid input: the body must be a JSON object.")
    plural = singular + "s"
    if singular in body and isinstance(body[singular], dict):
        return [body[singular]]
    if (
        plural in body
        and isinstance(body[plural], list)
        and all(isinstance(x, dict) for x in body[plural])
    ):
        return list(body[plural])
    raise Invalid(f"Invalid input: expected a '{singular}' object or a '{plural}' list.")


def create_network_app(networks: NetworkManager, validator: TokenValidator) -> FastAPI:
    app = create_app("labcloud network (neutron)", "neutron")
    ports = PortManager(networks)
    Ctxt = Annotated[RequestContext, Depends(require_token(validator))]  # noqa: N806
    crud: dict[str, dict[str, Any]] = {
        "network": {
            "create": networks.create_network,
            "list": networks.list_networks,
            "get": networks.get_network,
            "update": networks.update_network,
            "delete": networks.delete_network,
        },
        "subnet": {
            "create": networks.create_subnet,
            "list": networks.list_subnets,
            "get": networks.get_subnet,
            "update": networks.update_subnet,
            "delete": networks.delete_subnet,
        },
        "port": {
            "create": ports.create_port,
            "list": ports.list_ports,
            "get": ports.get_port,
            "update": ports.update_port,
            "delete": ports.delete_port,
        },
    }

    @app.get("/")
    def versions(request: Request) -> dict[str, Any]:
        href = f"{str(request.base_url).rstrip('/')}/v2.0/"
        return {
            "versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}
            ]
        }

    @app.get("/v2.0")
    @app.get("/v2.0/")
    def resources(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "resources": [
                {
                    "name": n,
                    "collection": n + "s",
                    "links": [{"href": f"{base}/v2.0/{n}s", "rel": "self"}],
                }
                for n in crud
            ]
        }

    def extension(alias: str, name: str, description: str) -> dict[str, Any]:
        return {
            "alias": alias,
            "name": name,
            "description": description,
            "links": [],
            "updated": "2013-01-20T00:00:00-00:00",
        }

    @app.get("/v2.0/extensions")
    def extensions(_: Ctxt) -> dict[str, Any]:
        return {"extensions": [extension(*e) for e in EXTENSIONS]}

    @app.get("/v2.0/extensions/{alias}")
    def one_extension(alias: str, _: Ctxt) -> dict[str, Any]:
        for e in EXTENSIONS:
            if e[0] == alias:
                return {"extension": extension(*e)}
        raise NotFound(f"Extension with alias {alias} does not exist")

    for kind, ops in crud.items():
        register(app, Ctxt, kind, ops)
    return app


def register(app: FastAPI, ctxt_type: Any, kind: str, ops: dict[str, Any]) -> None:
    """The five routes of one resource (POST, GET list, GET one, PUT, DELETE)."""
    plural = kind + "s"

    def create(ctxt: ctxt_type, body: Annotated[Any, Body()]) -> dict[str, Any]:
        items = _one(body, kind)
        made = [ops["create"](ctxt, item) for item in items]
        return {kind: made[0]} if kind in body else {plural: made}

    def listing(ctxt: ctxt_type, request: Request) -> dict[str, Any]:
        filters = dict(request.query_params)
        if "tenant_id" in filters:
            filters["project_id"] = filters.pop("tenant_id")
        filters.pop("fields", None)
        return {plural: ops["list"](ctxt, filters)}

    def show(ident: str, ctxt: ctxt_type) -> dict[str, Any]:
        return {kind: ops["get"](ctxt, ident)}

    def update(ident: str, ctxt: ctxt_type, body: Annotated[Any, Body()]) -> dict[str, Any]:
        return {kind: ops["update"](ctxt, ident, _one(body, kind)[0])}

    def delete(ident: str, ctxt: ctxt_type) -> None:
        ops["delete"](ctxt, ident)

    app.post(f"/v2.0/{plural}", status_code=201, name=f"create_{kind}")(create)
    app.get(f"/v2.0/{plural}", name=f"list_{plural}")(listing)
    app.get(f"/v2.0/{plural}/{{ident}}", name=f"show_{kind}")(show)
    app.put(f"/v2.0/{plural}/{{ident}}", name=f"update_{kind}")(update)
    app.delete(f"/v2.0/{plural}/{{ident}}", status_code=204, name=f"delete_{kind}")(delete)
