"""``/v3/{project_id}/limits`` and ``/v3/{project_id}/os-quota-sets``: what a project may
use and what it uses. A user reads its own project's; an admin reads any and is the only one
who changes them (``volume_extension:quotas:update``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from labcloud.exceptions import Invalid
from labcloud.policy import authorize
from labcloud.volume.api.deps import Ctxt, Frontend, microversion
from labcloud.volume.schemas import MAX_INT, Strict

limits_router = APIRouter(
    prefix="/v3/{project_id}/limits", tags=["limits"], dependencies=[Depends(microversion)]
)
router = APIRouter(
    prefix="/v3/{project_id}/os-quota-sets",
    tags=["quota sets"],
    dependencies=[Depends(microversion)],
)


def _integer(value: Any) -> Any:
    """cinder's quota values: an integer, or a string of one (``"10"``, ``"-1"``)."""
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 11:
        return int(value)
    return value


Limit = Annotated[int, BeforeValidator(_integer), Field(ge=-1, le=MAX_INT)]


class QuotaSet(Strict):
    model_config = ConfigDict(strict=True, extra="forbid")
    volumes: Limit | None = None
    snapshots: Limit | None = None
    gigabytes: Limit | None = None
    backups: Limit | None = None
    backup_gigabytes: Limit | None = None
    groups: Limit | None = None
    per_volume_gigabytes: Limit | None = None
    volumes___DEFAULT__: Limit | None = None  # noqa: N815 (cinder's name)
    gigabytes___DEFAULT__: Limit | None = None  # noqa: N815 (cinder's name)
    snapshots___DEFAULT__: Limit | None = None  # noqa: N815 (cinder's name)


class QuotaSetBody(Strict):
    quota_set: QuotaSet


class QuotaSetAnswer(BaseModel):
    quota_set: dict[str, Any]


class Limits(BaseModel):
    rate: list[Any]
    absolute: dict[str, int]


class LimitsAnswer(BaseModel):
    limits: Limits


def _target(target: str) -> str:
    if not 0 < len(target) <= 64 or not target.isascii() or not target.isprintable():
        raise Invalid(f"Invalid project id {target[:64]!r}.")
    return target


Target = Annotated[str, Depends(_target)]


@limits_router.get("", response_model=LimitsAnswer)
def limits(ctxt: Ctxt, front: Frontend) -> Any:
    absolute = front.quota.absolute(ctxt.project_id or "")
    return {"limits": {"rate": [], "absolute": absolute}}


@router.get("/{target}", response_model=QuotaSetAnswer)
def show(
    target: Target, ctxt: Ctxt, front: Frontend, usage: Annotated[bool, Query()] = False
) -> Any:
    authorize(ctxt, "volume_extension:quotas:show", {"project_id": target})
    return {"quota_set": front.quota.quota_set(target, usage)}


@router.get("/{target}/defaults", response_model=QuotaSetAnswer)
def defaults(target: Target, ctxt: Ctxt, front: Frontend) -> Any:
    authorize(ctxt, "volume_extension:quotas:show", {"project_id": target})
    return {"quota_set": front.quota.quota_set("") | {"id": target}}


@router.put("/{target}", response_model=QuotaSetAnswer)
def update(target: Target, ctxt: Ctxt, front: Frontend, body: QuotaSetBody) -> Any:
    authorize(ctxt, "volume_extension:quotas:update")
    front.quota.update(target, body.quota_set.model_dump(exclude_none=True))
    shown = front.quota.quota_set(target)
    del shown["id"]
    return {"quota_set": shown}
