"""What glance's routes depend on: the manager, the caller's context, a well-formed image
id, and a JSON body read without trusting its size or depth."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, LabCloudError
from labcloud.image.manager import ImageManager, ImageNotFound
from labcloud.image.schemas import UUID_PATTERN
from labcloud.rest.auth import require_token

# nesting deeper than any glance document (a patch value is at most a list of strings)
MAX_DEPTH = 32


class UnsupportedMediaType(LabCloudError):
    msg_fmt = "%(message)s"
    code = 415


# ``async def`` though they never wait: FastAPI runs a plain ``def`` dependency in a worker
# thread, a hop to the thread pool and back per dependency and request.
async def _manager(request: Request) -> ImageManager:
    manager: ImageManager = request.app.state.manager
    return manager


async def _context(request: Request) -> RequestContext:
    return await require_token(request.app.state.validator)(request)


async def _image_id(image_id: Annotated[str, PathParam()]) -> str:
    """glance's ids are UUIDs: any other id names no image (and never reaches the database
    or the store, where ``..`` or a NUL would mean something else)."""
    if not re.match(UUID_PATTERN, image_id):
        raise ImageNotFound(image_id=image_id[:64])
    return image_id


Manager = Annotated[ImageManager, Depends(_manager)]
Ctxt = Annotated[RequestContext, Depends(_context)]
ImageId = Annotated[str, Depends(_image_id)]


def depth(document: Any) -> int:
    """How deeply lists and objects nest in ``document`` (a loop, not recursion)."""
    deepest, stack = 0, [(document, 0)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
    return deepest


async def read_json(request: Request) -> Any:
    """The body as JSON: 400 when it is malformed or nested deeper than MAX_DEPTH (Python's
    parser would raise RecursionError on a deep enough one)."""
    try:
        document = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise Invalid("Malformed JSON in request body.") from None
    if depth(document) > MAX_DEPTH:
        raise Invalid(f"The request body nests deeper than {MAX_DEPTH} levels.")
    return document


def openapi_body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the schema it checks."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def openapi_answer(status: int, schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {status: {"content": {"application/json": {"schema": schema}}}}
