"""What cinder's routes depend on: the frontends, the caller's context for the URL's project,
well-formed ids, and the microversion the request asks for."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.rest.auth import require_token
from labcloud.volume.frontend import VolumeFrontend
from labcloud.volume.manager import SnapshotNotFound, VolumeNotFound
from labcloud.volume.snapshots import SnapshotFrontend

MIN_VERSION = MAX_VERSION = "3.0"  # the shapes labcloud serves are cinder's 3.0
UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


class VersionNotAcceptable(LabCloudError):
    msg_fmt = (
        "Version %(version)s is not supported by the API. "
        f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}."
    )
    code = 406


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def microversion(
    response: Response,
    requested: Annotated[str | None, Header(alias="OpenStack-API-Version", max_length=64)] = None,
) -> str:
    """``OpenStack-API-Version: volume 3.x``: 406 outside [MIN, MAX], ``latest`` is MAX; the
    answer names the version it was served at, as cinder's does."""
    version = MIN_VERSION
    if requested and requested.split()[0].lower() == "volume" and len(requested.split()) == 2:
        asked = requested.split()[1]
        if asked == "latest":
            version = MAX_VERSION
        elif not re.fullmatch(r"\d{1,4}\.\d{1,4}", asked) or not (
            _version(MIN_VERSION) <= _version(asked) <= _version(MAX_VERSION)
        ):
            raise VersionNotAcceptable(version=asked[:16])
        else:
            version = asked
    response.headers["OpenStack-API-Version"] = f"volume {version}"
    response.headers["Vary"] = "OpenStack-API-Version"
    return version


async def _context(request: Request, project_id: str) -> RequestContext:
    """The token's context; another project's URL is 403 unless the caller is admin."""
    ctxt = await require_token(request.app.state.validator)(request)
    if project_id != ctxt.project_id:
        policy.authorize(ctxt, "cross_project")
    return ctxt


def _frontend(request: Request) -> VolumeFrontend:
    frontend: VolumeFrontend = request.app.state.frontend
    return frontend


def _snapshots(request: Request) -> SnapshotFrontend:
    frontend: SnapshotFrontend = request.app.state.snapshots
    return frontend


def _volume_id(volume_id: str) -> str:
    if not UUID.match(volume_id):
        raise VolumeNotFound(volume_id=volume_id[:64])
    return volume_id


def _snapshot_id(snapshot_id: str) -> str:
    if not UUID.match(snapshot_id):
        raise SnapshotNotFound(snapshot_id=snapshot_id[:64])
    return snapshot_id


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


Ctxt = Annotated[RequestContext, Depends(_context)]
Frontend = Annotated[VolumeFrontend, Depends(_frontend)]
Snapshots = Annotated[SnapshotFrontend, Depends(_snapshots)]
VolumeId = Annotated[str, Depends(_volume_id)]
SnapshotId = Annotated[str, Depends(_snapshot_id)]
Base = Annotated[str, Depends(base)]
