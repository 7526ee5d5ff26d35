"""cinder-api's REST API, ``/v3/{project_id}/...``: one router per resource (volumes, their
actions, snapshots) over the frontend, and the version document; bodies are checked by the
pydantic models of volume/schemas.py, errors answered in cinder's shape."""

from __future__ import annotations

from fastapi import FastAPI

from labcloud.rest.app import create_app, include_routes
from labcloud.rest.auth import TokenValidator
from labcloud.volume.api import actions, quotas, snapshots, versions, volumes
from labcloud.volume.api.deps import MAX_VERSION
from labcloud.volume.frontend import VolumeFrontend
from labcloud.volume.snapshots import SnapshotFrontend


def create_volume_app(
    frontend: VolumeFrontend, snapshot_frontend: SnapshotFrontend, validator: TokenValidator
) -> FastAPI:
    app = create_app("labcloud volume (cinder)", "cinder", version=MAX_VERSION)
    app.state.frontend = frontend
    app.state.snapshots = snapshot_frontend
    app.state.validator = validator
    routers = (
        versions.router,
        volumes.router,
        actions.router,
        snapshots.router,
        quotas.limits_router,
        quotas.router,
    )
    for router in routers:
        include_routes(app, router)
    return app
