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
