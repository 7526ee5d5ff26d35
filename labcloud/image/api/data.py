"""``/v2/images/{id}/file``: upload an image's data once, download it as often as wanted."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from labcloud.image.api.deps import Ctxt, ImageId, Manager

router = APIRouter(prefix="/v2/images/{image_id}/file", tags=["image data"])
OCTETS = {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}


@router.put("", status_code=204, openapi_extra={"requestBody": OCTETS})
async def upload(image_id: ImageId, ctxt: Ctxt, manager: Manager, request: Request) -> None:
    # the whole body, then the store: labcloud's images are small (glance streams it)
    data = await request.body()
    manager.upload(ctxt, image_id, [data])


@router.get("", response_class=Response, responses={200: OCTETS, 204: {}})
def download(image_id: ImageId, ctxt: Ctxt, manager: Manager) -> Response:
    image, chunks = manager.download(ctxt, image_id)
    if image.status != "active":
        return Response(status_code=204)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-MD5": image.checksum or ""},
    )
