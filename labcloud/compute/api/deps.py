"""What every nova route depends on, as typed aliases (``Ctxt``, ``Frontend``, ``BaseUrl``).

The app keeps its frontend and its token check in ``app.state``; these aliases resolve at
runtime, so route modules keep ``from __future__ import annotations``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from labcloud.compute.frontend import ComputeFrontend
from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, LabCloudError, NotFound

MIN_VERSION, MAX_VERSION = (2, 1), (2, 37)


class VersionNotAcceptable(LabCloudError):
    msg_fmt = (
        "Version %(version)s is not supported by the API. Minimum is 2.1 and maximum is "
        f"{MAX_VERSION[0]}.{MAX_VERSION[1]}."
    )
    code = 406


# The dependencies below are ``async def`` though they never wait: FastAPI runs a plain
# ``def`` dependency in a worker thread, a hop to the thread pool and back per dependency
# and request, for what takes a microsecond on the event loop.
async def frontend(request: Request) -> ComputeFrontend:
    front: ComputeFrontend = request.app.state.frontend
    return front


async def context(request: Request) -> RequestContext:
    """The caller, from its token (keystonemiddleware's work: rest/auth.py)."""
    ctxt: RequestContext = await request.app.state.auth(request)
    return ctxt


async def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def requested_version(nova_header: str | None, header: str | None) -> tuple[int, int]:
    """The microversion a request asks for (``OpenStack-API-Version: compute 2.37`` or the
    older ``X-OpenStack-Nova-API-Version``), 2.1 when it names none, ``latest`` the maximum;
    406 outside [2.1, 2.37] and 400 if malformed, as nova answers."""
    asked = nova_header
    for item in (header or "").split(","):
        words = item.split()
        if len(words) == 2 and words[0].lower() == "compute":
            asked = words[1]
    if asked is None:
        return MIN_VERSION
    if asked.lower() == "latest":
        return MAX_VERSION
    if not re.fullmatch(r"\d{1,4}\.\d{1,4}", asked):
        raise Invalid(
            f"API Version String {asked[:16]!r} is of invalid format. Must be of format "
            "MajorNum.MinorNum."
        )
    version = (int(asked.split(".")[0]), int(asked.split(".")[1]))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VersionNotAcceptable(version=asked)
    return version


def served_version(nova_header: str | None, header: str | None) -> str:
    """The version an answer names (2.1 when the request's is refused)."""
    try:
        major, minor = requested_version(nova_header, header)
    except LabCloudError:
        major, minor = MIN_VERSION
    return f"{major}.{minor}"


async def microversion(request: Request) -> tuple[int, int]:
    return requested_version(
        request.headers.get("X-OpenStack-Nova-API-Version"),
        request.headers.get("OpenStack-API-Version"),
    )


def since(version: tuple[int, int], first: tuple[int, int]) -> None:
    """A route that exists from ``first`` on: below, nova answers 404 (its
    VersionNotFoundForAPIMethod)."""
    if version < first:
        raise NotFound("The resource could not be found.")


def nova_router(prefix: str, tag: str) -> APIRouter:
    """One resource's router: each of its routes reads the microversion asked for first
    (400 or 406 before anything else is looked at), as nova's API does."""
    return APIRouter(prefix=prefix, tags=[tag], dependencies=[Depends(microversion)])


Ctxt = Annotated[RequestContext, Depends(context)]
Frontend = Annotated[ComputeFrontend, Depends(frontend)]
BaseUrl = Annotated[str, Depends(base_url)]
Microversion = Annotated[tuple[int, int], Depends(microversion)]
JSON = dict[str, Any]
