"""``/v3/{project_id}/snapshots``: create (from an available volume, or in-use with
``force``), list, show, update and delete snapshots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from labcloud.volume import views
from labcloud.volume.api.deps import Ctxt, SnapshotId, Snapshots, microversion
from labcloud.volume.schemas import (
    SnapshotAnswer,
    SnapshotCreateBody,
    SnapshotsAnswer,
    SnapshotUpdateBody,
)

router = APIRouter(
    prefix="/v3/{project_id}/snapshots", tags=["snapshots"], dependencies=[Depends(microversion)]
)
AllTenants = Annotated[bool, Query()]


@router.post("", status_code=202, response_model=SnapshotAnswer)
def create(ctxt: Ctxt, snapshots: Snapshots, body: SnapshotCreateBody) -> Any:
    return {"snapshot": views.snapshot(snapshots.create(ctxt, body.snapshot))}


@router.get("", response_model=SnapshotsAnswer)
@router.get("/detail", response_model=SnapshotsAnswer)
def index(ctxt: Ctxt, snapshots: Snapshots, all_tenants: AllTenants = False) -> Any:
    return {"snapshots": [views.snapshot(s) for s in snapshots.list(ctxt, all_tenants)]}


@router.get("/{snapshot_id}", response_model=SnapshotAnswer)
def show(snapshot_id: SnapshotId, ctxt: Ctxt, snapshots: Snapshots) -> Any:
    return {"snapshot": views.snapshot(snapshots.get(ctxt, snapshot_id))}


@router.put("/{snapshot_id}", response_model=SnapshotAnswer)
def update(
    snapshot_id: SnapshotId, ctxt: Ctxt, snapshots: Snapshots, body: SnapshotUpdateBody
) -> Any:
    return {"snapshot": views.snapshot(snapshots.update(ctxt, snapshot_id, body.snapshot))}


@router.delete("/{snapshot_id}", status_code=202)
def delete(snapshot_id: SnapshotId, ctxt: Ctxt, snapshots: Snapshots) -> None:
    snapshots.delete(ctxt, snapshot_id)
