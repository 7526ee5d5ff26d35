"""``/v2/images/{id}/members``: the projects a shared image is offered to, and their answers.

The owner adds and removes members and sees them all; a member sees itself and accepts or
rejects the offer (an accepted image is listed in its ``GET /v2/images``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from labcloud.image import views
from labcloud.image.api.deps import Ctxt, ImageId, Manager, openapi_answer, openapi_body, read_json
from labcloud.image.schemas import (
    MEMBER_SCHEMA,
    MEMBER_STATUS,
    MEMBERS_SCHEMA,
    NEW_MEMBER,
    check,
    openapi,
)

router = APIRouter(prefix="/v2/images/{image_id}/members", tags=["image members"])
MEMBER = openapi(MEMBER_SCHEMA)
MemberId = Annotated[str, Path(max_length=255, pattern=r"^[^\x00]*$")]


async def _new_member(request: Request) -> Any:
    body = await read_json(request)
    check(NEW_MEMBER, body, "member")
    return body


async def _status(request: Request) -> Any:
    body = await read_json(request)
    check(MEMBER_STATUS, body, "member")
    return body


@router.get("", response_model=None, responses=openapi_answer(200, openapi(MEMBERS_SCHEMA)))
def index(image_id: ImageId, ctxt: Ctxt, manager: Manager) -> dict[str, Any]:
    rows = manager.list_members(ctxt, image_id)
    return {"members": [views.member(m) for m in rows], "schema": "/v2/schemas/members"}


@router.post(
    "",
    response_model=None,
    openapi_extra=openapi_body(NEW_MEMBER),
    responses=openapi_answer(200, MEMBER),
)
def create(
    image_id: ImageId, ctxt: Ctxt, manager: Manager, body: Annotated[Any, Depends(_new_member)]
) -> dict[str, Any]:
    return views.member(manager.add_member(ctxt, image_id, body["member"]))


@router.get("/{member_id}", response_model=None, responses=openapi_answer(200, MEMBER))
def show(image_id: ImageId, member_id: MemberId, ctxt: Ctxt, manager: Manager) -> dict[str, Any]:
    return views.member(manager.get_member(ctxt, image_id, member_id))


@router.put(
    "/{member_id}",
    response_model=None,
    openapi_extra=openapi_body(MEMBER_STATUS),
    responses=openapi_answer(200, MEMBER),
)
def update(
    image_id: ImageId,
    member_id: MemberId,
    ctxt: Ctxt,
    manager: Manager,
    body: Annotated[Any, Depends(_status)],
) -> dict[str, Any]:
    return views.member(manager.answer_member(ctxt, image_id, member_id, body["status"]))


@router.delete("/{member_id}", status_code=204)
def delete(image_id: ImageId, member_id: MemberId, ctxt: Ctxt, manager: Manager) -> None:
    manager.remove_member(ctxt, image_id, member_id)
