"""glance-api's REST API, ``/v2``: images, their data (``/file``), members and schemas."""

# No "from __future__ import annotations": FastAPI must see the closures' Depends().
import json
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, LabCloudError
from labcloud.image.manager import ImageManager
from labcloud.image.models import Image
from labcloud.rest.app import create_app
from labcloud.rest.auth import TokenValidator, require_token

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


class UnsupportedMediaType(LabCloudError):
    msg_fmt = "%(message)s"
    code = 415


def view(image: Image) -> dict[str, Any]:
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return image.properties | {
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "tags": image.tags,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": None,
        "checksum": image.checksum,
        "os_hash_algo": "sha512" if image.os_hash_value else None,
        "os_hash_value": image.os_hash_value,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "os_hidden": False,
        "created_at": image.created_at.strftime(stamp),
        "updated_at": image.updated_at.strftime(stamp),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }


SCHEMA = {
    "name": "image",
    "type": "object",
    "additionalProperties": {"type": "string"},
    "properties": {
        k: {"type": ["null", "string"]}
        for k in (
            "id",
            "name",
            "status",
            "visibility",
            "owner",
            "disk_format",
            "container_format",
            "checksum",
            "os_hash_algo",
            "os_hash_value",
        )
    },
}


def create_image_app(manager: ImageManager, validator: TokenValidator) -> FastAPI:
    app = create_app("labcloud image (glance)", "glance")
    Ctxt = Annotated[RequestContext, Depends(require_token(validator))]  # noqa: N806

    @app.get("/")
    @app.get("/versions")
    def versions(request: Request) -> JSONResponse:
        href = f"{str(request.base_url).rstrip('/')}/v2/"
        values = [{"id": "v2.9", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]
        return JSONResponse({"versions": values}, status_code=300)

    @app.get("/v2/schemas/image")
    def image_schema() -> dict[str, Any]:
        return SCHEMA

    @app.get("/v2/schemas/images")
    def images_schema() -> dict[str, Any]:
        return {"name": "images", "properties": {"images": {"type": "array", "items": SCHEMA}}}

    @app.post("/v2/images", status_code=201)
    def create(ctxt: Ctxt, body: Annotated[Any, Body()]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        return view(manager.create(ctxt, body))

    @app.get("/v2/images")
    def index(ctxt: Ctxt, request: Request) -> dict[str, Any]:
        params = dict(request.query_params)
        try:
            limit = int(params.pop("limit", 25))
        except ValueError:
            raise Invalid("limit param must be an integer") from None
        marker = params.pop("marker", None)
        for key in ("sort_key", "sort_dir", "member_status"):
            params.pop(key, None)
        images = manager.list_images(ctxt, params)
        if marker is not None:
            ids = [i.id for i in images]
            if marker not in ids:
                raise Invalid(f"marker {marker} could not be found.")
            images = images[ids.index(marker) + 1 :]
        page = images[:limit]
        answer: dict[str, Any] = {
            "images": [view(i) for i in page],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if len(images) > limit:
            answer["next"] = f"/v2/images?marker={page[-1].id}&limit={limit}"
        return answer

    @app.get("/v2/images/{image_id}")
    def show(image_id: str, ctxt: Ctxt) -> dict[str, Any]:
        return view(manager.get(ctxt, image_id))

    @app.patch("/v2/images/{image_id}")
    async def update(image_id: str, ctxt: Ctxt, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0] != PATCH_TYPE:
            raise UnsupportedMediaType(f"Content-Type must be {PATCH_TYPE}")
        try:
            ops = json.loads(await request.body())
        except ValueError:
            raise Invalid("Malformed JSON in request body.") from None
        if not isinstance(ops, list):
            raise Invalid("A JSON patch is a list of operations.")
        return view(manager.patch(ctxt, image_id, ops))

    @app.delete("/v2/images/{image_id}", status_code=204)
    def delete(image_id: str, ctxt: Ctxt) -> None:
        manager.delete(ctxt, image_id)

    @app.put("/v2/images/{image_id}/file", status_code=204)
    async def upload(image_id: str, ctxt: Ctxt, request: Request) -> None:
        data = await request.body()
        manager.upload(ctxt, image_id, [data])

    @app.get("/v2/images/{image_id}/file")
    def download(image_id: str, ctxt: Ctxt) -> Response:
        image, chunks = manager.download(ctxt, image_id)
        if image.status != "active":
            return Response(status_code=204)
        return StreamingResponse(
            chunks,
            media_type="application/octet-stream",
            headers={"Content-MD5": image.checksum or ""},
        )

    @app.post("/v2/images/{image_id}/members")
    def add_member(image_id: str, ctxt: Ctxt, body: Annotated[Any, Body()]) -> dict[str, Any]:
        if not isinstance(body, dict) or "member" not in body:
            raise Invalid("Expected a 'member' in the request body.")
        return manager.set_member(ctxt, image_id, str(body["member"]))

    @app.put("/v2/images/{image_id}/members/{member}")
    def answer_member(
        image_id: str, member: str, ctxt: Ctxt, body: Annotated[Any, Body()]
    ) -> dict[str, Any]:
        if not isinstance(body, dict) or "status" not in body:
            raise Invalid("Expected a 'status' in the request body.")
        return manager.set_member(ctxt, image_id, member, str(body["status"]))

    return app
