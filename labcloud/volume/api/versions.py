"""``GET /`` and ``GET /v3``: the one API version, with the microversions labcloud serves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labcloud.volume.api.deps import MAX_VERSION, MIN_VERSION, Base

router = APIRouter(tags=["versions"])


def _v3(base: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2016-02-08T12:20:21Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@router.get("/")
def versions(base: Base) -> dict[str, Any]:
    return {"versions": [_v3(base)]}


@router.get("/v3")
@router.get("/v3/", include_in_schema=False)
def v3(base: Base) -> dict[str, Any]:
    return {"version": _v3(base)}
