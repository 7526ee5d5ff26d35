"""How cinder reaches glance (cinder/image/glance.py): its REST API, with the user's token.
cinder-api reads an image's record to check a new volume against it; cinder-volume
downloads its data into the volume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, LabCloudError
from labcloud.rest.client import ServiceClient


class ImageUnavailable(LabCloudError):
    msg_fmt = "glance answered %(status)s for image %(image_id)s"
    code = 503


def _auth(ctxt: RequestContext) -> dict[str, Any]:
    return {"token": ctxt.auth_token, "request_id": ctxt.request_id, "user": ctxt.user_name or ""}


class GlanceClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def _path(self, image_id: str) -> str:
        return f"/v2/images/{quote(image_id, safe='')}"

    def show(self, ctxt: RequestContext, image_id: str) -> dict[str, Any]:
        """The image's record; Invalid (cinder's 400) when the caller cannot see it."""
        answer = self.http.get(self._path(image_id), **_auth(ctxt))
        if answer.status_code in (400, 403, 404):
            raise Invalid("Invalid image identifier or unable to access requested image.")
        if answer.status_code != 200:
            raise ImageUnavailable(status=answer.status_code, image_id=image_id)
        return dict(answer.json())

    def download(self, ctxt: RequestContext, image_id: str) -> Iterator[bytes]:
        """The image's data, in chunks as glance sends them."""
        answer = self.http.get(self._path(image_id) + "/file", **_auth(ctxt))
        if answer.status_code != 200:
            raise ImageUnavailable(status=answer.status_code, image_id=image_id)
        return answer.iter_bytes()
