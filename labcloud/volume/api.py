"""cinder-api's REST API: ``/v3/{project_id}/volumes`` and the volume actions nova uses to
attach (os-reserve, os-initialize_connection, os-attach) and detach (os-begin_detaching,
os-terminate_connection, os-detach)."""

# No "from __future__ import annotations": FastAPI must see the closures' Depends().
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from sqlalchemy import select

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Forbidden, Invalid
from labcloud.rest.app import create_app
from labcloud.rest.auth import TokenValidator, require_token
from labcloud.volume.manager import VolumeNotFound, now, set_status
from labcloud.volume.models import Volume
from labcloud.volume.rpcapi import SchedulerAPI, VolumeAPI

# action -> (statuses it may start from, the status it leaves)
TRANSITIONS = {
    "os-reserve": (("available",), "attaching"),
    "os-unreserve": (("attaching",), "available"),
    "os-attach": (("attaching", "available"), "in-use"),
    "os-begin_detaching": (("in-use",), "detaching"),
    "os-roll_detaching": (("detaching",), "in-use"),
    "os-detach": (("detaching", "in-use"), "available"),
}


class InvalidVolume(Invalid):
    msg_fmt = "Invalid volume: %(reason)s"


def view(v: Volume, base: str, admin: bool) -> dict[str, Any]:
    stamp = "%Y-%m-%dT%H:%M:%S.000000"
    body = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": v.created_at.strftime(stamp),
        "updated_at": v.updated_at.strftime(stamp),
        "attachments": v.attachments,
        "bootable": "false",
        "encrypted": False,
        "multiattach": False,
        "volume_type": None,
        "snapshot_id": None,
        "source_volid": None,
        "metadata": {},
        "user_id": v.user_id,
        "os-vol-tenant-attr:tenant_id": v.project_id,
        "replication_status": None,
        "consistencygroup_id": None,
        "links": [{"rel": "self", "href": f"{base}/v3/{v.project_id}/volumes/{v.id}"}],
    }
    if admin:
        body["os-vol-host-attr:host"] = v.host
    return body


def create_volume_app(
    db: Database, scheduler: SchedulerAPI, volumes: VolumeAPI, validator: TokenValidator
) -> FastAPI:
    app = create_app("labcloud volume (cinder)", "cinder")

    def project_ctxt(
        project_id: str, ctxt: Annotated[RequestContext, Depends(require_token(validator))]
    ) -> RequestContext:
        if project_id != ctxt.project_id and not ctxt.is_admin:
            raise Forbidden("Policy doesn't allow this project's volumes to be accessed.")
        return ctxt

    Ctxt = Annotated[RequestContext, Depends(project_ctxt)]  # noqa: N806

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def load(ctxt: RequestContext, volume_id: str) -> Volume:
        with db.session() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or (vol.project_id != ctxt.project_id and not ctxt.is_admin):
                raise VolumeNotFound(volume_id=volume_id)
            return vol

    @app.get("/")
    def versions(request: Request) -> dict[str, Any]:
        return {
            "versions": [
                {
                    "id": "v3.0",
                    "status": "CURRENT",
                    "version": "3.70",
                    "min_version": "3.0",
                    "updated": "2023-08-31T00:00:00Z",
                    "links": [{"rel": "self", "href": f"{base(request)}/v3/"}],
                }
            ]
        }

    @app.get("/v3")
    @app.get("/v3/")
    def v3(request: Request) -> dict[str, Any]:
        return {"version": versions(request)["versions"][0]}

    @app.post("/v3/{project_id}/volumes", status_code=202)
    def create(ctxt: Ctxt, request: Request, body: Annotated[Any, Body()]) -> dict[str, Any]:
        spec = body.get("volume") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise Invalid("Missing required element 'volume' in request body.")
        size = spec.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise Invalid(f"Invalid input received: size {size!r} must be a positive integer.")
        with db.session() as s:
            vol = Volume(
                id=str(uuid.uuid4()),
                name=str(spec.get("name") or ""),
                description=str(spec.get("description") or ""),
                size=size,
                project_id=ctxt.project_id or "",
                user_id=ctxt.user_id or "",
                availability_zone=str(spec.get("availability_zone") or "nova"),
                attachments=[],
                created_at=now(),
                updated_at=now(),
            )
            s.add(vol)
        scheduler.create_volume(ctxt, {"id": vol.id, "size": size})
        return {"volume": view(vol, base(request), ctxt.is_admin)}

    def listing(ctxt: RequestContext, request: Request) -> list[dict[str, Any]]:
        with db.session() as s:
            query = select(Volume).order_by(Volume.created_at)
            if not ctxt.is_admin:
                query = query.where(Volume.project_id == ctxt.project_id)
            return [view(v, base(request), ctxt.is_admin) for v in s.scalars(query)]

    @app.get("/v3/{project_id}/volumes")
    def index(ctxt: Ctxt, request: Request) -> dict[str, Any]:
        return {
            "volumes": [
                {"id": v["id"], "name": v["name"], "links": v["links"]}
                for v in listing(ctxt, request)
            ]
        }

    @app.get("/v3/{project_id}/volumes/detail")
    def detail(ctxt: Ctxt, request: Request) -> dict[str, Any]:
        return {"volumes": listing(ctxt, request)}

    @app.get("/v3/{project_id}/volumes/{volume_id}")
    def show(volume_id: str, ctxt: Ctxt, request: Request) -> dict[str, Any]:
        return {"volume": view(load(ctxt, volume_id), base(request), ctxt.is_admin)}

    @app.put("/v3/{project_id}/volumes/{volume_id}")
    def update(
        volume_id: str, ctxt: Ctxt, request: Request, body: Annotated[Any, Body()]
    ) -> dict[str, Any]:
        load(ctxt, volume_id)
        changes = body.get("volume") if isinstance(body, dict) else None
        if not isinstance(changes, dict):
            raise Invalid("Missing required element 'volume' in request body.")
        set_status(
            db, volume_id, **{k: str(v) for k, v in changes.items() if k in ("name", "description")}
        )
        return {"volume": view(load(ctxt, volume_id), base(request), ctxt.is_admin)}

    @app.delete("/v3/{project_id}/volumes/{volume_id}", status_code=202)
    def delete(volume_id: str, ctxt: Ctxt) -> None:
        vol = load(ctxt, volume_id)
        if vol.status in ("in-use", "attaching", "detaching", "creating"):
            raise InvalidVolume(
                reason=f"Volume status must be available or error, "
                f"but current status is: {vol.status}."
            )
        if vol.host is None:  # never reached a backend: nothing to remove there
            with db.session() as s:
                row = s.get(Volume, volume_id)
                if row is not None:
                    s.delete(row)
            return
        set_status(db, volume_id, status="deleting")
        volumes.delete_volume(ctxt, vol.host, volume_id)

    @app.post("/v3/{project_id}/volumes/{volume_id}/action")
    def action(volume_id: str, ctxt: Ctxt, body: Annotated[Any, Body()]) -> Any:
        if not isinstance(body, dict) or len(body) != 1:
            raise Invalid("There must be exactly one action in the request body.")
        ((name, args),) = body.items()
        vol = load(ctxt, volume_id)
        handler = ACTIONS.get(name)
        if handler is not None:
            return handler(ctxt, vol, args if isinstance(args, dict) else {})
        if name not in TRANSITIONS:
            raise Invalid(f"There is no such action: {name}")
        allowed, after = TRANSITIONS[name]
        if vol.status not in allowed:
            raise InvalidVolume(
                reason=f"{name} needs status {' or '.join(allowed)}, not {vol.status}."
            )
        extra = attach_fields(vol, name, args if isinstance(args, dict) else {})
        set_status(db, volume_id, status=after, **extra)
        return None

    def attach_fields(vol: Volume, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "os-attach":
            attachment = {
                "server_id": args.get("instance_uuid"),
                "attachment_id": str(uuid.uuid4()),
                "device": args.get("mountpoint"),
                "volume_id": vol.id,
                "host_name": args.get("host_name"),
                "id": vol.id,
            }
            return {"attach_status": "attached", "attachments": [attachment]}
        if name == "os-detach":
            return {"attach_status": "detached", "attachments": []}
        return {}

    def connect(ctxt: RequestContext, vol: Volume, args: dict[str, Any]) -> dict[str, Any]:
        if vol.host is None or vol.status not in ("attaching", "in-use", "available"):
            raise InvalidVolume(reason=f"volume {vol.id} is {vol.status}.")
        info = volumes.initialize_connection(ctxt, vol.host, vol.id, args.get("connector", {}))
        return {"connection_info": info}

    def disconnect(ctxt: RequestContext, vol: Volume, args: dict[str, Any]) -> None:
        if vol.host is not None:
            volumes.terminate_connection(ctxt, vol.host, vol.id, args.get("connector", {}))

    ACTIONS: dict[str, Callable[[RequestContext, Volume, dict[str, Any]], Any]] = {  # noqa: N806
        "os-initialize_connection": connect,
        "os-terminate_connection": disconnect,
    }
    return app
