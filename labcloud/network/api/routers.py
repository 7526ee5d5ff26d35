"""``/v2.0/routers``: CRUD, and the actions ``add_router_interface`` and
``remove_router_interface`` (PUT, with a subnet_id or a port_id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.routers import RouterNotFound
from labcloud.network.schemas.l3 import (
    InterfaceInfo,
    InterfaceRequest,
    RouterCreate,
    RouterUpdate,
    RouterView,
)
from labcloud.network.schemas.types import Body, View

router = APIRouter(prefix="/v2.0/routers", tags=["routers"])
RouterId = Annotated[str, Depends(resource_id(lambda i: RouterNotFound(router_id=i)))]


class CreateRouter(Envelope):
    router: RouterCreate | None = None


class UpdateRouter(Body):
    router: RouterUpdate


class OneRouter(View):
    router: RouterView


class Routers(View):
    routers: list[RouterView]


class RouterFilters(Filters):
    name: str | None = None


@router.post("", status_code=201, response_model=OneRouter)
def create_router(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateRouter) -> object:
    _, (item,) = body.items()
    plugin.quotas.check(ctxt, "router", [item])
    return {"router": plugin.routers.create_router(ctxt, item)}


@router.get("", response_model=Routers)
def list_routers(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[RouterFilters, Query()]
) -> object:
    return {"routers": plugin.routers.list_routers(ctxt, query.filters())}


@router.get("/{ident}", response_model=OneRouter)
def show_router(ident: RouterId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"router": plugin.routers.get_router(ctxt, ident)}


@router.put("/{ident}", response_model=OneRouter)
def update_router(ident: RouterId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdateRouter) -> object:
    return {"router": plugin.routers.update_router(ctxt, ident, body.router.attrs())}


@router.delete("/{ident}", status_code=204)
def delete_router(ident: RouterId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.routers.delete_router(ctxt, ident)


@router.put("/{ident}/add_router_interface", response_model=InterfaceInfo)
def add_router_interface(
    ident: RouterId, ctxt: Ctxt, plugin: NeutronPlugin, body: InterfaceRequest
) -> object:
    return plugin.routers.add_router_interface(ctxt, ident, body.attrs())


@router.put("/{ident}/remove_router_interface", response_model=InterfaceInfo)
def remove_router_interface(
    ident: RouterId, ctxt: Ctxt, plugin: NeutronPlugin, body: InterfaceRequest
) -> object:
    return plugin.routers.remove_router_interface(ctxt, ident, body.attrs())
