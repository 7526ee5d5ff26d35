"""``/v2.0/ports``: create (one or a bulk), list with filters, show, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.manager import PortNotFound
from labcloud.network.schemas.core import PortCreate, PortUpdate, PortView
from labcloud.network.schemas.types import Body, View

router = APIRouter(prefix="/v2.0/ports", tags=["ports"])
PortId = Annotated[str, Depends(resource_id(lambda i: PortNotFound(port_id=i)))]


class CreatePort(Envelope):
    port: PortCreate | None = None
    ports: list[PortCreate] | None = None


class UpdatePort(Body):
    port: PortUpdate


class OnePort(View):
    port: PortView


class Ports(View):
    ports: list[PortView]


class PortFilters(Filters):
    name: str | None = None
    network_id: str | None = None
    device_id: str | None = None
    device_owner: str | None = None
    mac_address: str | None = None


@router.post("", status_code=201, response_model=OnePort | Ports)
def create_port(ctxt: Ctxt, plugin: NeutronPlugin, body: CreatePort) -> object:
    key, items = body.items()
    plugin.quotas.check(ctxt, "port", items)
    made = [plugin.ports.create_port(ctxt, item) for item in items]
    return {key: made[0] if key == "port" else made}


@router.get("", response_model=Ports)
def list_ports(ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[PortFilters, Query()]) -> object:
    return {"ports": plugin.ports.list_ports(ctxt, query.filters())}


@router.get("/{ident}", response_model=OnePort)
def show_port(ident: PortId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"port": plugin.ports.get_port(ctxt, ident)}


@router.put("/{ident}", response_model=OnePort)
def update_port(ident: PortId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdatePort) -> object:
    return {"port": plugin.ports.update_port(ctxt, ident, body.port.attrs())}


@router.delete("/{ident}", status_code=204)
def delete_port(ident: PortId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.ports.delete_port(ctxt, ident)
