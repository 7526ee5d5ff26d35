"""``/v2.0/floatingips``: allocate from an external network, associate with a port (PUT
``port_id``), disassociate (``port_id: null``), release (DELETE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.floatingips import FloatingIPNotFound
from labcloud.network.schemas.l3 import FloatingIpCreate, FloatingIpUpdate, FloatingIpView
from labcloud.network.schemas.types import Body, View

router = APIRouter(prefix="/v2.0/floatingips", tags=["floating IPs"])
FipId = Annotated[str, Depends(resource_id(lambda i: FloatingIPNotFound(floatingip_id=i)))]


class CreateFloatingIp(Envelope):
    floatingip: FloatingIpCreate | None = None


class UpdateFloatingIp(Body):
    floatingip: FloatingIpUpdate


class OneFloatingIp(View):
    floatingip: FloatingIpView


class FloatingIps(View):
    floatingips: list[FloatingIpView]


class FloatingIpFilters(Filters):
    floating_ip_address: str | None = None
    floating_network_id: str | None = None
    port_id: str | None = None


@router.post("", status_code=201, response_model=OneFloatingIp)
def create_floatingip(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateFloatingIp) -> object:
    _, (item,) = body.items()
    plugin.quotas.check(ctxt, "floatingip", [item])
    return {"floatingip": plugin.floatingips.create_floatingip(ctxt, item)}


@router.get("", response_model=FloatingIps)
def list_floatingips(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[FloatingIpFilters, Query()]
) -> object:
    return {"floatingips": plugin.floatingips.list_floatingips(ctxt, query.filters())}


@router.get("/{ident}", response_model=OneFloatingIp)
def show_floatingip(ident: FipId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"floatingip": plugin.floatingips.get_floatingip(ctxt, ident)}


@router.put("/{ident}", response_model=OneFloatingIp)
def update_floatingip(
    ident: FipId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdateFloatingIp
) -> object:
    attrs = body.floatingip.attrs()
    return {"floatingip": plugin.floatingips.update_floatingip(ctxt, ident, attrs)}


@router.delete("/{ident}", status_code=204)
def delete_floatingip(ident: FipId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.floatingips.delete_floatingip(ctxt, ident)
