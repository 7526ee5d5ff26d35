"""``/v3/{project_id}/volumes``: create (blank, from an image, from a snapshot), list,
show, update and delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from labcloud.volume import views
from labcloud.volume.api.deps import Base, Ctxt, Frontend, VolumeId, microversion
from labcloud.volume.schemas import (
    VolumeAnswer,
    VolumeCreateBody,
    VolumesAnswer,
    VolumeSummaries,
    VolumeUpdateBody,
)

router = APIRouter(
    prefix="/v3/{project_id}/volumes", tags=["volumes"], dependencies=[Depends(microversion)]
)
AllTenants = Annotated[bool, Query()]


@router.post("", status_code=202, response_model=VolumeAnswer)
def create(ctxt: Ctxt, frontend: Frontend, base: Base, body: VolumeCreateBody) -> dict[str, Any]:
    return {"volume": views.volume(frontend.create(ctxt, body.volume), base, ctxt.is_admin)}


@router.get("", response_model=VolumeSummaries)
def index(ctxt: Ctxt, frontend: Frontend, base: Base, all_tenants: AllTenants = False) -> Any:
    return {
        "volumes": [
            {"id": v.id, "name": v.name, "links": views.volume(v, base, False)["links"]}
            for v in frontend.list(ctxt, all_tenants)
        ]
    }


@router.get("/detail", response_model=VolumesAnswer)
def detail(ctxt: Ctxt, frontend: Frontend, base: Base, all_tenants: AllTenants = False) -> Any:
    volumes = frontend.list(ctxt, all_tenants)
    return {"volumes": [views.volume(v, base, ctxt.is_admin) for v in volumes]}


@router.get("/{volume_id}", response_model=VolumeAnswer)
def show(volume_id: VolumeId, ctxt: Ctxt, frontend: Frontend, base: Base) -> Any:
    return {"volume": views.volume(frontend.get(ctxt, volume_id), base, ctxt.is_admin)}


@router.put("/{volume_id}", response_model=VolumeAnswer)
def update(
    volume_id: VolumeId, ctxt: Ctxt, frontend: Frontend, base: Base, body: VolumeUpdateBody
) -> Any:
    volume = frontend.update(ctxt, volume_id, body.volume)
    return {"volume": views.volume(volume, base, ctxt.is_admin)}


@router.delete("/{volume_id}", status_code=202)
def delete(volume_id: VolumeId, ctxt: Ctxt, frontend: Frontend) -> None:
    frontend.delete(ctxt, volume_id)
