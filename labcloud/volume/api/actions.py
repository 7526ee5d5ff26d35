"""``POST /v3/{project_id}/volumes/{id}/action``: the attach and detach steps nova drives
(os-reserve, os-initialize_connection, os-attach; os-begin_detaching,
os-terminate_connection, os-detach), one action per body."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, model_validator

from labcloud.exceptions import Invalid
from labcloud.volume.api.deps import Ctxt, Frontend, VolumeId, microversion
from labcloud.volume.frontend import TRANSITIONS

router = APIRouter(
    prefix="/v3/{project_id}/volumes/{volume_id}/action",
    tags=["volume actions"],
    dependencies=[Depends(microversion)],
)
NAMES = (*TRANSITIONS, "os-initialize_connection", "os-terminate_connection")


class ActionBody(BaseModel):
    """``{"<action>": {arguments}}``: exactly one action, its arguments an object."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"enum": list(NAMES)},
        },
    )

    @model_validator(mode="after")
    def one_action(self) -> ActionBody:
        extra = self.model_extra or {}
        if len(extra) != 1:
            raise ValueError("There must be exactly one action in the request body.")
        ((_, args),) = extra.items()
        if not isinstance(args, dict | None):
            raise ValueError("An action's arguments are an object.")
        return self


@router.post("", response_model=None)
def action(volume_id: VolumeId, ctxt: Ctxt, frontend: Frontend, body: ActionBody) -> Any:
    ((name, args),) = (body.model_extra or {}).items()
    if name not in NAMES:
        raise Invalid(f"There is no such action: {name[:64]}")
    return frontend.action(ctxt, volume_id, name, args)
