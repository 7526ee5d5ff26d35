"""``/limits`` and ``/os-quota-sets``: what a project may use and what it uses.

A user reads its own project's; an admin reads any project's and is the only one who
changes them (``os_compute_api:os-quota-sets:update``).
"""

from __future__ import annotations

from labcloud.compute import responses as out
from labcloud.compute.api.deps import JSON, Ctxt, Frontend, Microversion, nova_router
from labcloud.compute.schemas import QuotaSetBody, plain
from labcloud.exceptions import Invalid
from labcloud.policy import authorize

limits_router = nova_router("/v2.1/limits", "limits")
router = nova_router("/v2.1/os-quota-sets", "quota sets")


@limits_router.get("", response_model=out.Limits)
def limits(ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    absolute = front.quota.absolute(ctxt.project_id or "", ctxt.user_id or "", version)
    return {"limits": {"rate": [], "absolute": absolute}}


def _project(project_id: str) -> str:
    if not plain(project_id):
        raise Invalid(f"Invalid project id {project_id[:64]!r}.")
    return project_id


@router.get("/{project_id}", response_model=out.QuotaSetBody)
def show(project_id: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    _project(project_id)
    authorize(ctxt, "owner", {"project_id": project_id})
    return {"quota_set": front.quota.quota_set(project_id, version)}


@router.get("/{project_id}/detail", response_model=out.QuotaSetBody)
def detail(project_id: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    """Each quota as ``{"limit", "in_use", "reserved"}`` (``openstack quota show --usage``)."""
    _project(project_id)
    authorize(ctxt, "owner", {"project_id": project_id})
    return {"quota_set": front.quota.detail(project_id, version)}


@router.get("/{project_id}/defaults", response_model=out.QuotaSetBody)
def defaults(project_id: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    _project(project_id)
    authorize(ctxt, "owner", {"project_id": project_id})
    return {"quota_set": front.quota.quota_set("", version) | {"id": project_id}}


@router.put("/{project_id}", response_model=out.QuotaSetBody)
def update(
    project_id: str, body: QuotaSetBody, ctxt: Ctxt, front: Frontend, version: Microversion
) -> JSON:
    authorize(ctxt, "os_compute_api:os-quota-sets:update")
    _project(project_id)
    values = body.quota_set.model_dump(exclude_none=True, exclude={"force"})
    front.quota.update(project_id, values)
    shown = front.quota.quota_set(project_id, version)
    del shown["id"]
    return {"quota_set": shown}
