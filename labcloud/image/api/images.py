"""``/v2/images``: create, list, show, update (JSON patch) and delete image records."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from labcloud.exceptions import Invalid
from labcloud.image import views
from labcloud.image.api.deps import (
    Ctxt,
    ImageId,
    Manager,
    UnsupportedMediaType,
    openapi_answer,
    openapi_body,
    read_json,
)
from labcloud.image.patch import MEDIA_TYPES
from labcloud.image.schemas import IMAGE_SCHEMA, IMAGES_SCHEMA, openapi

router = APIRouter(prefix="/v2/images", tags=["images"])
API_LIMIT_MAX = 1000  # glance's api_limit_max: a larger limit is cut to it
IMAGE = openapi(IMAGE_SCHEMA)
PATCH_OP = {
    "type": "object",
    "properties": {
        "op": {"type": "string", "enum": ["add", "replace", "remove"]},
        "path": {"type": "string", "maxLength": 512},
        "value": {},
    },
    "required": ["op", "path"],
}
# the query keys glance reads itself; any other is a filter on an attribute
PAGING = ("limit", "marker", "sort_key", "sort_dir", "sort", "member_status")


async def _body(request: Request) -> Any:
    return await read_json(request)


async def _patch(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() not in MEDIA_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be {MEDIA_TYPES[0]}")
    return await read_json(request)


@router.post(
    "",
    status_code=201,
    response_model=None,
    openapi_extra=openapi_body(IMAGE),
    responses=openapi_answer(201, IMAGE),
)
def create(ctxt: Ctxt, manager: Manager, body: Annotated[Any, Depends(_body)]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return views.image(manager.create(ctxt, body))


@router.get("", response_model=None, responses=openapi_answer(200, openapi(IMAGES_SCHEMA)))
def index(
    ctxt: Ctxt,
    manager: Manager,
    request: Request,
    limit: Annotated[int, Query(ge=0)] = 25,
    marker: Annotated[str | None, Query(max_length=255)] = None,
    sort_key: Annotated[str, Query(max_length=255)] = "created_at",
    sort_dir: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> dict[str, Any]:
    """Images the caller may see, newest first; other query keys filter (``name=cirros``,
    ``id=in:a,b``). labcloud sorts by creation time only."""
    limit = min(limit, API_LIMIT_MAX)
    filters = {k: v for k, v in request.query_params.items() if k not in PAGING}
    images = manager.list_images(ctxt, filters)
    if marker is not None:
        ids = [i.id for i in images]
        if marker not in ids:
            raise Invalid(f"marker {marker} could not be found.")
        images = images[ids.index(marker) + 1 :]
    page = images[:limit]
    answer: dict[str, Any] = {
        "images": [views.image(i) for i in page],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if page and len(images) > limit:
        answer["next"] = f"/v2/images?marker={page[-1].id}&limit={limit}"
    return answer


@router.get("/{image_id}", response_model=None, responses=openapi_answer(200, IMAGE))
def show(image_id: ImageId, ctxt: Ctxt, manager: Manager) -> JSONResponse:
    # nova asks for its image at every build: the view is JSON's own types already, so
    # the answer is rendered as FastAPI would render it, without its jsonable_encoder walk
    return JSONResponse(views.image(manager.get(ctxt, image_id)))


@router.patch(
    "/{image_id}",
    response_model=None,
    openapi_extra=openapi_body({"type": "array", "items": PATCH_OP}, MEDIA_TYPES[0]),
    responses=openapi_answer(200, IMAGE),
)
def update(
    image_id: ImageId, ctxt: Ctxt, manager: Manager, ops: Annotated[Any, Depends(_patch)]
) -> dict[str, Any]:
    return views.image(manager.patch(ctxt, image_id, ops))


@router.delete("/{image_id}", status_code=204)
def delete(image_id: ImageId, ctxt: Ctxt, manager: Manager) -> None:
    manager.delete(ctxt, image_id)
