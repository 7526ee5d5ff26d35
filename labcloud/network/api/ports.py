"""``/v2.0/ports``: create (one or a bulk), list with filters, show, update, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from labcloud.context import RequestContext
from labcloud.network.api.deps import (
    Ctxt,
    Envelope,
    Filters,
    NeutronPlugin,
    Plugin,
    resource_id,
)
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
async def create_port(ctxt: Ctxt, plugin: NeutronPlugin, body: CreatePort) -> object:
    # nova-compute's every build comes here. The work waits on the database and the
    # broker: in a worker thread, as FastAPI runs a plain ``def``; but from a coroutine,
    # so FastAPI checks the answer on the loop, not in a second trip to the thread pool.
    key, items = body.items()
    made = await run_in_threadpool(_create_ports, ctxt, plugin, items)
    return {key: made[0] if key == "port" else made}


def _create_ports(
    ctxt: RequestContext, plugin: Plugin, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    plugin.quotas.check(ctxt, "port", items)
    return [plugin.ports.create_port(ctxt, item) for item in items]


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
