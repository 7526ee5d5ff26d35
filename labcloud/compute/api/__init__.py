"""nova-api's REST API, ``/v2.1``: one router per resource, each with its request schemas
(compute/schemas.py), checked before anything reaches the frontend or the database.

A request may ask for a microversion from 2.1 to 2.37 (api/deps.py ``microversion``); the
answer names the one served in ``OpenStack-API-Version`` as nova's does, and follows it
where nova's does (nova's rest_api_version_history.rst) in what labcloud serves:

====  ==========================================================================================
2.2   keypairs: ``type`` (create may give it; every answer shows it); create 201, delete 204
2.3   servers, to admins: ``OS-EXT-SRV-ATTR:`` reservation_id, launch_index, hostname,
      kernel_id, ramdisk_id, root_device_name, user_data; ``delete_on_termination`` in
      ``os-extended-volumes:volumes_attached``
2.9   servers: ``locked`` (the ``lock`` and ``unlock`` actions exist at every version)
2.10  keypairs: ``user_id`` (an admin lists, shows, deletes or creates another user's)
2.11  os-services: ``forced_down``
2.16  servers, to admins: ``host_status`` (UP, MAINTENANCE, UNKNOWN, "" with no host)
2.19  servers: ``description`` (create and update take it; below, it is 400)
2.21  os-instance-actions: a deleted server's actions too
2.26  servers: ``tags``, and ``/servers/{id}/tags`` (404 below)
2.28  os-hypervisors: ``cpu_info`` an object, no longer a string
2.35  keypairs: ``limit`` and ``marker``, with ``keypairs_links``
2.36  limits and os-quota-sets: no network quotas (neutron's): floating IPs, security groups
      and their rules, fixed IPs
2.37  server create: ``networks`` required, and may be ``"auto"`` or ``"none"``
====  ==========================================================================================

Left out, as labcloud serves none of what they change: 2.4–2.8, 2.12–2.15, 2.17, 2.18,
2.20, 2.22–2.25, 2.27 (both headers are read at every version), 2.29–2.34 (2.32's device
tags are accepted and ignored; 2.33's hypervisor pages are not served). Below 2.51 nova
shows an action's events to admins only, so labcloud does at every version it serves.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Send

from labcloud.compute.api import (
    actions,
    external_events,
    flavors,
    hosts,
    instance_actions,
    keypairs,
    quotas,
    servers,
    tags,
    volume_attachments,
)
from labcloud.compute.api.deps import MAX_VERSION, BaseUrl, served_version
from labcloud.compute.frontend import ComputeFrontend
from labcloud.rest.app import create_app, include_routes
from labcloud.rest.auth import current_request_id
from labcloud.rest.errors import nova_body
from labcloud.rest.middleware import HeadersMiddleware, Scope
from labcloud.trace.flow import flow_step

MICROVERSION = f"{MAX_VERSION[0]}.{MAX_VERSION[1]}"
ROUTERS = (
    servers.router,
    actions.router,
    volume_attachments.router,
    instance_actions.router,
    tags.router,
    flavors.router,
    keypairs.router,
    quotas.limits_router,
    quotas.router,
    hosts.zones_router,
    hosts.hypervisors_router,
    hosts.services_router,
    external_events.router,
)


def _bad_request(exc: RequestValidationError) -> str:
    """nova's JSON-schema message: the field, the value, what is wrong with it."""
    err = exc.errors()[0]
    if err.get("type") == "json_invalid":
        return "Malformed request body"
    where = "/".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
    value = str(err.get("input", ""))[:64]
    return f"Invalid input for field/attribute {where or 'body'}. Value: {value!r}. {err['msg']}"


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MICROVERSION,
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
    }


class VersionHeaders:
    """Every answer, an error's too, names the microversion served, as nova's do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = Headers(scope=scope)
        version = served_version(
            asked.get("X-OpenStack-Nova-API-Version"), asked.get("OpenStack-API-Version")
        )
        named = [
            (b"openstack-api-version", f"compute {version}".encode()),
            (b"x-openstack-nova-api-version", version.encode()),
        ]

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *named]
            await send(message)

        await self.app(scope, receive, send_named)


def create_compute_app(frontend: ComputeFrontend, auth: Any) -> FastAPI:
    """nova-api over ``frontend``; ``auth`` turns a request into its context (or 401)."""
    app = create_app("labcloud compute (nova)", "nova", version=MICROVERSION)
    app.state.frontend, app.state.auth = frontend, auth

    async def step_3(scope: Scope) -> None:
        if scope["method"] == "POST" and scope["path"].rstrip("/") == "/v2.1/servers":
            # before 4-5, in a worker thread: a breakpoint holds that, not the event loop
            await run_in_threadpool(flow_step, frontend.instances.bus, 3, current_request_id())

    vary = {"Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}
    app.add_middleware(HeadersMiddleware, headers=vary, on_request=step_3)

    app.add_middleware(VersionHeaders)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(nova_body(400, "HTTPBadRequest", _bad_request(exc)), status_code=400)

    @app.get("/", tags=["versions"])
    def versions(base: BaseUrl) -> dict[str, Any]:
        return {"versions": [_version(base)]}

    @app.get("/v2.1", tags=["versions"])
    @app.get("/v2.1/", tags=["versions"])
    def v21(base: BaseUrl) -> dict[str, Any]:
        return {"version": _version(base)}

    for router in ROUTERS:  # each reads the microversion first (deps.nova_router)
        include_routes(app, router)
    return app
