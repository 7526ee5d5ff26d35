"""The dependencies neutron's and glance's routes share are coroutines: FastAPI runs a plain
function dependency in a worker thread, one round trip to the thread pool per request for
what takes a microsecond (the routes themselves, which touch the database, still run there)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.params import Depends

from labcloud.image.api import deps as image_deps
from labcloud.network.api import deps as network_deps
from labcloud.network.api.ports import PortId


def dependency_of(alias: Any) -> Any:
    (marker,) = [m for m in alias.__metadata__ if isinstance(m, Depends)]
    return marker.dependency


@pytest.mark.parametrize(
    "alias",
    [
        network_deps.NeutronPlugin,
        network_deps.Ctxt,
        PortId,
        image_deps.Manager,
        image_deps.Ctxt,
        image_deps.ImageId,
    ],
)
def test_shared_dependencies_run_on_the_event_loop(alias: Any) -> None:
    assert inspect.iscoroutinefunction(dependency_of(alias))


def test_nova_dependencies_run_on_the_event_loop() -> None:
    from labcloud.compute.api import deps as compute_deps

    for alias in (compute_deps.Frontend, compute_deps.BaseUrl, compute_deps.Microversion):
        assert inspect.iscoroutinefunction(dependency_of(alias))


def test_each_api_matches_its_routes_in_one_flat_list() -> None:
    """FastAPI 0.165 walks an included router's routes at each request (twice for the one
    that matches): every route is in the app's own list, nova's reading the microversion."""
    from unittest.mock import MagicMock

    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    from labcloud.compute.api import create_compute_app
    from labcloud.compute.api.deps import microversion
    from labcloud.identity.api import create_identity_app
    from labcloud.image.api import create_image_app
    from labcloud.network.api import create_network_app
    from labcloud.volume.api import create_volume_app

    stub = MagicMock()
    apps: list[FastAPI] = [
        create_compute_app(stub, stub),
        create_identity_app(stub),
        create_image_app(stub, stub),
        create_network_app(stub, stub, stub, stub),
        create_volume_app(stub, stub, stub),
    ]
    for app in apps:
        kinds = {type(route).__name__ for route in app.router.routes}
        assert kinds <= {"Route", "APIRoute"}, kinds
    nova = [r for r in apps[0].router.routes if isinstance(r, APIRoute)]
    for route in nova:
        if route.path.startswith("/v2.1/") and route.path != "/v2.1/":
            assert route.dependencies[0].dependency is microversion, route.path
