"""nova-api's REST API, ``/v2.1``: servers, server actions, volume attachments, flavors.

labcloud speaks microversion 2.1 only (the version document says so, so clients do not ask
for more) and echoes it in the ``OpenStack-API-Version`` header as nova does.
"""

# No "from __future__ import annotations": FastAPI must see the closures' Depends().
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from labcloud.compute import views
from labcloud.compute.frontend import ComputeFrontend
from labcloud.context import RequestContext
from labcloud.exceptions import Invalid
from labcloud.rest.app import create_app
from labcloud.rest.auth import current_request_id
from labcloud.trace.flow import emit_step

MICROVERSION = "2.1"


class NetworkRef(BaseModel):
    uuid: str


class BlockDevice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uuid: str = ""
    source_type: str = "volume"
    destination_type: str = "volume"
    boot_index: int | str | None = None


class ServerCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=255)
    flavorRef: str  # noqa: N815 - nova's names
    imageRef: str = ""  # noqa: N815
    networks: list[NetworkRef] | str = "auto"
    availability_zone: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    min_count: int = Field(default=1, ge=1, le=1000)
    block_device_mapping_v2: list[BlockDevice] = Field(default_factory=list)


class ServerBody(BaseModel):
    server: ServerCreate


class Attachment(BaseModel):
    volumeId: str  # noqa: N815
    device: str | None = None


class AttachmentBody(BaseModel):
    volumeAttachment: Attachment  # noqa: N815


def create_compute_app(frontend: ComputeFrontend, auth: Any) -> FastAPI:
    app = create_app("labcloud compute (nova)", "nova", version=MICROVERSION)
    Ctxt = Annotated[RequestContext, Depends(auth)]  # noqa: N806 - a type alias

    @app.middleware("http")
    async def microversion(request: Request, call_next: Any) -> Response:
        if request.method == "POST" and request.url.path.rstrip("/") == "/v2.1/servers":
            emit_step(frontend.instances.bus, 3, request_id=current_request_id())  # before 4-5
        response: Response = await call_next(request)
        response.headers["OpenStack-API-Version"] = f"compute {MICROVERSION}"
        response.headers["X-OpenStack-Nova-API-Version"] = MICROVERSION
        response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return response

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def version(request: Request) -> dict[str, Any]:
        return {
            "id": "v2.1",
            "status": "CURRENT",
            "version": MICROVERSION,
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base(request)}/v2.1/"}],
        }

    @app.get("/")
    def versions(request: Request) -> dict[str, Any]:
        return {"versions": [version(request)]}

    @app.get("/v2.1")
    @app.get("/v2.1/")
    def v21(request: Request) -> dict[str, Any]:
        return {"version": version(request)}

    @app.post("/v2.1/servers", status_code=202)
    def create(body: ServerBody, request: Request, ctxt: Ctxt) -> dict[str, Any]:
        s = body.server
        image_ref = s.imageRef or next(
            (b.uuid for b in s.block_device_mapping_v2 if b.source_type == "image"), ""
        )
        if not image_ref:
            raise Invalid("Missing imageRef attribute")
        if isinstance(s.networks, str) and s.networks not in ("auto", "none"):
            raise Invalid(
                "Invalid input for field/attribute networks: must be a list, 'auto' or 'none'."
            )
        networks = (
            s.networks if isinstance(s.networks, str) else [n.model_dump() for n in s.networks]
        )
        created = frontend.create(
            ctxt,
            s.name,
            s.flavorRef,
            image_ref,
            networks=networks,
            volumes=[b.uuid for b in s.block_device_mapping_v2 if b.source_type == "volume"],
            availability_zone=s.availability_zone,
            metadata=s.metadata,
            count=s.min_count,
        )
        first = created[0]
        return {
            "server": {
                "id": first["uuid"],
                "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [{"name": "default"}],
                "adminPass": "labcloud",
                "links": views._links(base(request), "servers", first["uuid"]),
            }
        }

    @app.get("/v2.1/servers")
    def index(request: Request, ctxt: Ctxt) -> dict[str, Any]:
        servers = frontend.instances.list(None if ctxt.is_admin else ctxt.project_id)
        return {
            "servers": [
                {
                    "id": i["uuid"],
                    "name": i["display_name"],
                    "links": views._links(base(request), "servers", i["uuid"]),
                }
                for i in servers
            ]
        }

    @app.get("/v2.1/servers/detail")
    def detail(request: Request, ctxt: Ctxt) -> dict[str, Any]:
        servers = frontend.instances.list(None if ctxt.is_admin else ctxt.project_id)
        return {
            "servers": [
                views.server(base(request), i, frontend.instances.fault(i["uuid"])) for i in servers
            ]
        }

    @app.get("/v2.1/servers/{uuid}")
    def show(uuid: str, request: Request, ctxt: Ctxt) -> dict[str, Any]:
        inst = frontend.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        return {"server": views.server(base(request), inst, frontend.instances.fault(uuid))}

    @app.delete("/v2.1/servers/{uuid}", status_code=204)
    def delete(uuid: str, ctxt: Ctxt) -> None:
        frontend.delete(ctxt, uuid)

    @app.post("/v2.1/servers/{uuid}/action", status_code=202)
    def action(uuid: str, body: dict[str, Any], ctxt: Ctxt) -> None:
        if len(body) != 1:
            raise Invalid("There is not exactly one action in the request body.")
        ((name, args),) = body.items()
        if name == "reboot":
            kind = (args or {}).get("type", "SOFT") if isinstance(args, dict) else "SOFT"
            if kind not in ("SOFT", "HARD"):
                raise Invalid(f"Invalid reboot type {kind!r}: SOFT or HARD.")
            frontend.reboot(ctxt, uuid, kind)
        elif name in ("os-stop", "os-start", "suspend", "resume"):
            frontend.action(ctxt, uuid, name.removeprefix("os-"))
        elif name == "resize":
            ref = args.get("flavorRef") if isinstance(args, dict) else None
            if not isinstance(ref, str | int) or isinstance(ref, bool) or not str(ref):
                raise Invalid("Invalid input for field/attribute resize: 'flavorRef' is required.")
            frontend.resize(ctxt, uuid, str(ref).rsplit("/", 1)[-1])
        elif name == "confirmResize":
            frontend.confirm_resize(ctxt, uuid)
        elif name == "revertResize":
            frontend.revert_resize(ctxt, uuid)
        else:
            raise Invalid(f"Action {name!r} is not supported by labcloud.")

    @app.post("/v2.1/servers/{uuid}/os-volume_attachments")
    def attach(uuid: str, body: AttachmentBody, ctxt: Ctxt) -> dict[str, Any]:
        att = body.volumeAttachment
        result = frontend.attach_volume(ctxt, uuid, att.volumeId, att.device)
        return {
            "volumeAttachment": {
                "id": att.volumeId,
                "serverId": uuid,
                "volumeId": att.volumeId,
                "device": result["device"],
            }
        }

    @app.get("/v2.1/servers/{uuid}/os-volume_attachments")
    def attachments(uuid: str, ctxt: Ctxt) -> dict[str, Any]:
        inst = frontend.instances.get(uuid, project_id=None if ctxt.is_admin else ctxt.project_id)
        return {
            "volumeAttachments": [
                {
                    "id": d["volume_id"],
                    "serverId": uuid,
                    "volumeId": d["volume_id"],
                    "device": d["device"],
                }
                for d in inst["block_devices"]
            ]
        }

    @app.delete("/v2.1/servers/{uuid}/os-volume_attachments/{volume_id}", status_code=202)
    def detach(uuid: str, volume_id: str, ctxt: Ctxt) -> None:
        frontend.detach_volume(ctxt, uuid, volume_id)

    @app.get("/v2.1/os-services")
    def services(ctxt: Ctxt) -> dict[str, Any]:
        return {"services": frontend.services(ctxt)}

    @app.get("/v2.1/flavors")
    @app.get("/v2.1/flavors/detail")
    def flavors(request: Request, _: Ctxt) -> dict[str, Any]:
        return {"flavors": [views.flavor(base(request), f) for f in frontend.flavors()]}

    @app.get("/v2.1/flavors/{flavor_id}")
    def flavor(flavor_id: str, request: Request, _: Ctxt) -> dict[str, Any]:
        return {"flavor": views.flavor(base(request), frontend.flavor(flavor_id))}

    return app
