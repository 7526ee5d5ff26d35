"""glance-api's REST API, ``/v2``: one router per resource (images, their data, members,
schemas), over one ImageManager; every body and query checked at the edge."""

from __future__ import annotations

from fastapi import FastAPI

from labcloud.image.api import data, discovery, images, members
from labcloud.image.manager import ImageManager
from labcloud.rest.app import create_app, include_routes
from labcloud.rest.auth import TokenValidator


def create_image_app(manager: ImageManager, validator: TokenValidator) -> FastAPI:
    app = create_app("labcloud image (glance)", "glance", version="2.9")
    app.state.manager = manager
    app.state.validator = validator
    for router in (discovery.router, images.router, data.router, members.router):
        include_routes(app, router)
    return app
