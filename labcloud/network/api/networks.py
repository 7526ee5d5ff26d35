"""``/v2.0/networks``: create (one or a bulk), list with filters, show, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.manager import NetworkNotFound
from labcloud.network.schemas.core import NetworkCreate, NetworkUpdate, NetworkView
from labcloud.network.schemas.types import Body, View

router = APIRouter(prefix="/v2.0/networks", tags=["networks"])
NetworkId = Annotated[str, Depends(resource_id(lambda i: NetworkNotFound(net_id=i)))]


class CreateNetwork(Envelope):
    network: NetworkCreate | None = None
    networks: list[NetworkCreate] | None = None


class UpdateNetwork(Body):
    network: NetworkUpdate


class OneNetwork(View):
    network: NetworkView


class Networks(View):
    networks: list[NetworkView]


class NetworkFilters(Filters):
    name: str | None = None
    shared: str | None = None
    external: str | None = Field(None, alias="router:external")


@router.post("", status_code=201, response_model=OneNetwork | Networks)
def create_network(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateNetwork) -> object:
    key, items = body.items()
    plugin.quotas.check(ctxt, "network", items)
    made = [plugin.networks.create_network(ctxt, item) for item in items]
    return {key: made[0] if key == "network" else made}


@router.get("", response_model=Networks)
def list_networks(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[NetworkFilters, Query()]
) -> object:
    return {"networks": plugin.networks.list_networks(ctxt, query.filters())}


@router.get("/{ident}", response_model=OneNetwork)
def show_network(ident: NetworkId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"network": plugin.networks.get_network(ctxt, ident)}


@router.put("/{ident}", response_model=OneNetwork)
def update_network(
    ident: NetworkId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdateNetwork
) -> object:
    return {"network": plugin.networks.update_network(ctxt, ident, body.network.attrs())}


@router.delete("/{ident}", status_code=204)
def delete_network(ident: NetworkId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.networks.delete_network(ctxt, ident)
