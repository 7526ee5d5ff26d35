"""What a client reads before it calls: the API versions and glance's JSON schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from labcloud.exceptions import NotFound
from labcloud.image.schemas import SCHEMAS

router = APIRouter(tags=["discovery"])


@router.get("/", response_class=JSONResponse, responses={300: {}})
@router.get("/versions", response_class=JSONResponse, responses={300: {}})
def versions(request: Request) -> JSONResponse:
    href = f"{str(request.base_url).rstrip('/')}/v2/"
    values = [{"id": "v2.9", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]
    return JSONResponse({"versions": values}, status_code=300)


@router.get("/v2/schemas/{name}")
def schema(name: str) -> dict[str, Any]:
    """``image``, ``images``, ``member`` or ``members``: what glanceclient validates with."""
    if name not in SCHEMAS:
        raise NotFound(f"No schema named {name[:64]!r}")
    return SCHEMAS[name]
