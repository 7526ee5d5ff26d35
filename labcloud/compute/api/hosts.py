"""Where servers run: ``/os-availability-zone``, ``/os-hypervisors`` (admin only) and
``/os-services`` (admin only)."""

from __future__ import annotations

import json
from typing import Any

from labcloud.compute import responses as out
from labcloud.compute.api.deps import JSON, Ctxt, Frontend, Microversion, nova_router
from labcloud.exceptions import NotFound
from labcloud.policy import authorize

zones_router = nova_router("/v2.1/os-availability-zone", "availability zones")
hypervisors_router = nova_router("/v2.1/os-hypervisors", "hypervisors")
services_router = nova_router("/v2.1/os-services", "services")


@zones_router.get("", response_model=out.Zones)
def zones(ctxt: Ctxt, front: Frontend) -> JSON:
    shown = front.hosts.availability_zones(ctxt)
    return {"availabilityZoneInfo": [z | {"hosts": None} for z in shown]}


@zones_router.get("/detail", response_model=out.Zones)
def zones_detail(ctxt: Ctxt, front: Frontend) -> JSON:
    authorize(ctxt, "os_compute_api:os-availability-zone:detail")
    return {"availabilityZoneInfo": front.hosts.availability_zones(ctxt)}


@hypervisors_router.get("", response_model=out.Hypervisors)
def hypervisors(ctxt: Ctxt, front: Frontend) -> JSON:
    keys = ("id", "hypervisor_hostname", "state", "status")
    return {"hypervisors": [{k: h[k] for k in keys} for h in front.hosts.hypervisors(ctxt)]}


def _hypervisor(h: dict[str, Any], version: tuple[int, int]) -> JSON:
    """From 2.28 ``cpu_info`` is a JSON object, before a string holding one."""
    return h | {"cpu_info": json.loads(h["cpu_info"])} if version >= (2, 28) else h


@hypervisors_router.get("/detail", response_model=out.Hypervisors)
def hypervisors_detail(ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    return {"hypervisors": [_hypervisor(h, version) for h in front.hosts.hypervisors(ctxt)]}


@hypervisors_router.get("/{hypervisor_id}", response_model=out.HypervisorBody)
def hypervisor(hypervisor_id: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    for h in front.hosts.hypervisors(ctxt):
        if str(h["id"]) == hypervisor_id:
            return {"hypervisor": _hypervisor(h, version)}
    raise NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")


@services_router.get("", response_model=out.Services)
def services(ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    """``forced_down`` is shown from 2.11, as nova's."""
    shown = front.hosts.services(ctxt)
    if version < (2, 11):
        shown = [{k: v for k, v in s.items() if k != "forced_down"} for s in shown]
    return {"services": shown}
