"""``/v2.0/subnets``: create (one or a bulk), list with filters, show, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.manager import SubnetNotFound
from labcloud.network.schemas.core import SubnetCreate, SubnetUpdate, SubnetView
from labcloud.network.schemas.types import Body, View

router = APIRouter(prefix="/v2.0/subnets", tags=["subnets"])
SubnetId = Annotated[str, Depends(resource_id(lambda i: SubnetNotFound(subnet_id=i)))]


class CreateSubnet(Envelope):
    subnet: SubnetCreate | None = None
    subnets: list[SubnetCreate] | None = None


class UpdateSubnet(Body):
    subnet: SubnetUpdate


class OneSubnet(View):
    subnet: SubnetView


class Subnets(View):
    subnets: list[SubnetView]


class SubnetFilters(Filters):
    name: str | None = None
    network_id: str | None = None
    cidr: str | None = None
    ip_version: str | None = None


@router.post("", status_code=201, response_model=OneSubnet | Subnets)
def create_subnet(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateSubnet) -> object:
    key, items = body.items()
    plugin.quotas.check(ctxt, "subnet", items)
    made = [plugin.networks.create_subnet(ctxt, item) for item in items]
    return {key: made[0] if key == "subnet" else made}


@router.get("", response_model=Subnets)
def list_subnets(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[SubnetFilters, Query()]
) -> object:
    return {"subnets": plugin.networks.list_subnets(ctxt, query.filters())}


@router.get("/{ident}", response_model=OneSubnet)
def show_subnet(ident: SubnetId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"subnet": plugin.networks.get_subnet(ctxt, ident)}


@router.put("/{ident}", response_model=OneSubnet)
def update_subnet(ident: SubnetId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdateSubnet) -> object:
    return {"subnet": plugin.networks.update_subnet(ctxt, ident, body.subnet.attrs())}


@router.delete("/{ident}", status_code=204)
def delete_subnet(ident: SubnetId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.networks.delete_subnet(ctxt, ident)
