"""``/v2.0/quotas``: each project's limits (show, default, details with usage), changed and
reset by an admin only (``update_quota``, ``delete_quota``); a user reads its own project's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from labcloud.exceptions import Invalid
from labcloud.network.api.deps import Ctxt, NeutronPlugin
from labcloud.policy import authorize

router = APIRouter(prefix="/v2.0/quotas", tags=["quotas"])
MAX_INT = 2**31 - 1  # neutron's DB_INTEGER_MAX_VALUE


def _integer(value: Any) -> Any:
    """neutron's convert_to_int: an integer or a string of one."""
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 11:
        return int(value)
    return value


Limit = Annotated[int, BeforeValidator(_integer), Field(ge=-1, le=MAX_INT, strict=True)]


class QuotaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: Limit | None = None
    subnet: Limit | None = None
    port: Limit | None = None
    router: Limit | None = None
    floatingip: Limit | None = None
    security_group: Limit | None = None
    security_group_rule: Limit | None = None
    subnetpool: Limit | None = None
    rbac_policy: Limit | None = None
    # refuse a limit below what the project uses (openstack quota set sends it)
    check_limit: Annotated[bool, Field(strict=True)] | None = None


class QuotaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quota: QuotaUpdate


class QuotaAnswer(BaseModel):
    quota: dict[str, Any]


class QuotasAnswer(BaseModel):
    quotas: list[dict[str, Any]]


def _project(project_id: str) -> str:
    if not 0 < len(project_id) <= 255 or "\x00" in project_id:
        raise Invalid(f"Invalid project id {project_id[:64]!r}.")
    return project_id


ProjectId = Annotated[str, Depends(_project)]


@router.get("", response_model=QuotasAnswer)
def list_quotas(ctxt: Ctxt, plugin: NeutronPlugin) -> Any:
    authorize(ctxt, "update_quota")  # neutron lists every project's: admin-only
    projects = plugin.quotas.overridden()
    return {
        "quotas": [plugin.quotas.limits(p) | {"project_id": p, "tenant_id": p} for p in projects]
    }


@router.get("/{project_id}", response_model=QuotaAnswer)
def show_quota(project_id: ProjectId, ctxt: Ctxt, plugin: NeutronPlugin) -> Any:
    authorize(ctxt, "get_quota", {"project_id": project_id})
    return {"quota": plugin.quotas.limits(project_id)}


@router.get("/{project_id}/default", response_model=QuotaAnswer)
def show_default(project_id: ProjectId, ctxt: Ctxt, plugin: NeutronPlugin) -> Any:
    authorize(ctxt, "get_quota", {"project_id": project_id})
    return {"quota": plugin.quotas.limits("")}


@router.get("/{project_id}/details", response_model=QuotaAnswer)
def show_details(project_id: ProjectId, ctxt: Ctxt, plugin: NeutronPlugin) -> Any:
    authorize(ctxt, "get_quota", {"project_id": project_id})
    return {"quota": plugin.quotas.details(project_id)}


@router.put("/{project_id}", response_model=QuotaAnswer)
def update_quota(project_id: ProjectId, ctxt: Ctxt, plugin: NeutronPlugin, body: QuotaBody) -> Any:
    authorize(ctxt, "update_quota")
    limits = body.quota.model_dump(exclude_none=True, exclude={"check_limit"})
    if body.quota.check_limit:
        plugin.quotas.check_limits(project_id, limits)
    plugin.quotas.update(project_id, limits)
    return {"quota": plugin.quotas.limits(project_id)}


@router.delete("/{project_id}", status_code=204)
def delete_quota(project_id: ProjectId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    authorize(ctxt, "delete_quota")
    plugin.quotas.reset(project_id)
