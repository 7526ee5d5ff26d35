"""``/servers/{id}/os-volume_attachments``: attach, list and detach a server's volumes."""

from __future__ import annotations

from labcloud.compute import responses as out
from labcloud.compute import server_actions
from labcloud.compute.api.deps import JSON, Ctxt, Frontend, nova_router
from labcloud.compute.schemas import AttachmentBody

router = nova_router("/v2.1/servers/{uuid}/os-volume_attachments", "volume attachments")


@router.post("", response_model=out.AttachmentBody)
def attach(uuid: str, body: AttachmentBody, ctxt: Ctxt, front: Frontend) -> JSON:
    att = body.volumeAttachment
    result = server_actions.attach_volume(front, ctxt, uuid, att.volumeId, att.device)
    return {
        "volumeAttachment": {
            "id": att.volumeId,
            "serverId": uuid,
            "volumeId": att.volumeId,
            "device": result["device"],
        }
    }


@router.get("", response_model=out.Attachments)
def attachments(uuid: str, ctxt: Ctxt, front: Frontend) -> JSON:
    inst = front.get(ctxt, uuid)
    return {
        "volumeAttachments": [
            {
                "id": d["volume_id"],
                "serverId": uuid,
                "volumeId": d["volume_id"],
                "device": d["device"],
            }
            for d in inst["block_devices"]
        ]
    }


@router.delete("/{volume_id}", status_code=202)
def detach(uuid: str, volume_id: str, ctxt: Ctxt, front: Frontend) -> None:
    server_actions.detach_volume(front, ctxt, uuid, volume_id)
