"""``/os-server-external-events``: other services (neutron) tell nova what happened to a
server's resources; admin or service only, as nova's default policy. The body is checked
here as nova's schema (schemas/server_external_events.py) checks it below 2.51: the four
network events only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from labcloud.compute.api.deps import Ctxt, Frontend, nova_router
from labcloud.compute.external_events import create_events
from labcloud.compute.schemas import Body, Uuid
from labcloud.policy import authorize

router = nova_router("/v2.1/os-server-external-events", "server external events")

EventName = Literal[
    "network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted"
]


class Event(Body):
    server_uuid: Uuid
    name: EventName
    status: Literal["failed", "completed", "in-progress"] | None = None
    tag: Annotated[str, StringConstraints(max_length=255)] | None = None


class EventsBody(Body):
    events: Annotated[list[Event], Field(min_length=1)]


@router.post("", status_code=200)
def create(body: EventsBody, ctxt: Ctxt, front: Frontend) -> JSONResponse:
    authorize(ctxt, "os_compute_api:os-server-external-events:create")
    events = [e.model_dump(exclude_none=True) for e in body.events]
    answer, code = create_events(front.instances, front.compute, ctxt, events)
    return JSONResponse({"events": answer}, status_code=code)
