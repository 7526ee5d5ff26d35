"""keystone's catalog: ``/v3/services`` and ``/v3/endpoints`` (list and show an admin's, as
keystone's default policy has it; creating them too). Any token reads the catalog itself
from ``/v3/auth/catalog`` or its own body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from labcloud.identity import views
from labcloud.identity.auth import Context, Manager, base_url, enforce
from labcloud.identity.models import Endpoint, Service
from labcloud.identity.schemas import (
    EndpointCreateRequest,
    Id,
    Interface,
    Name,
    ServiceCreateRequest,
)

router = APIRouter(prefix="/v3")


@router.get("/services")
def list_services(
    request: Request,
    manager: Manager,
    ctxt: Context,
    type: Annotated[Name | None, Query()] = None,
    name: Annotated[Name | None, Query()] = None,
) -> dict[str, Any]:
    enforce(ctxt, "list_services")
    rows = manager.rows(Service, type=type, name=name)
    items = [views.service(base_url(request), s) for s in rows]
    return views.collection(base_url(request), "/v3/services", "services", items)


@router.post("/services", status_code=201)
def create_service(
    body: ServiceCreateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "create_service")
    new = body.service
    service_id = manager.create_service(new.type, new.name or new.type, new.description)
    return {"service": views.service(base_url(request), manager.row(Service, service_id))}


@router.get("/services/{service_id}")
def get_service(
    service_id: Id, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "get_service")
    return {"service": views.service(base_url(request), manager.row(Service, service_id))}


@router.get("/endpoints")
def list_endpoints(
    request: Request,
    manager: Manager,
    ctxt: Context,
    service_id: Annotated[Id | None, Query()] = None,
    interface: Annotated[Interface | None, Query()] = None,
    region_id: Annotated[Id | None, Query()] = None,
) -> dict[str, Any]:
    enforce(ctxt, "list_endpoints")
    rows = manager.rows(Endpoint, service_id=service_id, interface=interface, region=region_id)
    items = [views.endpoint(base_url(request), e) for e in rows]
    return views.collection(base_url(request), "/v3/endpoints", "endpoints", items)


@router.post("/endpoints", status_code=201)
def create_endpoint(
    body: EndpointCreateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "create_endpoint")
    new = body.endpoint
    region = new.region_id or new.region or "RegionOne"
    endpoint_id = manager.create_endpoint(new.service_id, new.interface, new.url, region)
    return {"endpoint": views.endpoint(base_url(request), manager.row(Endpoint, endpoint_id))}


@router.get("/endpoints/{endpoint_id}")
def get_endpoint(
    endpoint_id: Id, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "get_endpoint")
    return {"endpoint": views.endpoint(base_url(request), manager.row(Endpoint, endpoint_id))}
