"""``/servers/{id}/os-instance-actions``: the requests made on a server, each with its events
(compute/instance_actions.py). Below 2.51, nova shows events to admins only; from 2.21, the
actions of a deleted server too."""

from __future__ import annotations

from labcloud.compute import responses as out
from labcloud.compute.api.deps import JSON, Ctxt, Frontend, Microversion, nova_router
from labcloud.policy import authorize

router = nova_router("/v2.1/servers/{uuid}/os-instance-actions", "instance actions")


@router.get("", response_model=out.InstanceActions)
def instance_actions(uuid: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    front.get(ctxt, uuid, read_deleted=version >= (2, 21))  # the caller's, or 404
    return {"instanceActions": front.actions.list(uuid)}


@router.get("/{request_id}", response_model=out.InstanceActionBody)
def instance_action(
    uuid: str, request_id: str, ctxt: Ctxt, front: Frontend, version: Microversion
) -> JSON:
    front.get(ctxt, uuid, read_deleted=version >= (2, 21))
    admin = authorize(ctxt, "os_compute_api:os-instance-actions:events", fatal=False)
    return {"instanceAction": front.actions.get(uuid, request_id, admin=admin)}
