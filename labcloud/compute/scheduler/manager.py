"""nova-scheduler's manager: ``select_destinations`` filters and weighs the hosts it knows.

Hosts come from the compute_nodes table (``refresh``) and from the computes' reports, which
the conductor fans out (``update_host``). A chosen host's resources are consumed in memory
at once, so the next decision does not pick a host that is already full. The seed's steps
9–11 are reported here, where the scheduler does them.
"""

from __future__ import annotations

import threading
from typing import Any

from labcloud.compute.scheduler.filters import BaseHostFilter, default_filters, run_filters
from labcloud.compute.scheduler.host_state import HostManager, HostState
from labcloud.compute.scheduler.weighers import RAMWeigher, weigh
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import NoValidHost
from labcloud.trace.bus import TraceBus
from labcloud.trace.flow import flow_step


class SchedulerManager:
    def __init__(
        self,
        db: Database,
        *,
        filters: list[BaseHostFilter] | None = None,
        ram_weight_multiplier: float = 1.0,
        servicegroup: ServiceGroup | None = None,
        bus: TraceBus | None = None,
    ) -> None:
        self.bus = bus
        self.hosts = HostManager(db)
        self.filters = filters if filters is not None else default_filters(servicegroup)
        self.weighers = [RAMWeigher(ram_weight_multiplier)]
        self._lock = threading.Lock()  # one decision at a time, as with one nova-scheduler

    def select_destinations(
        self, ctxt: RequestContext | None, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[dict[str, Any]]:
        request_id = ctxt.request_id if ctxt is not None else ""
        for uuid in instance_uuids:
            flow_step(self.bus, 9, request_id, instance_uuid=uuid)
        ignore = set(request_spec.get("ignore_hosts") or [])
        forced = set(request_spec.get("force_hosts") or [])  # an admin's zone:host
        chosen = []
        placed: list[HostState] = []
        with self._lock:
            for uuid in instance_uuids:
                flow_step(self.bus, 10, request_id, instance_uuid=uuid)
                candidates = [
                    h
                    for h in self.hosts.get_all()
                    if h.host not in ignore and (not forced or h.host in forced)
                ]
                passed, removed = run_filters(self.filters, candidates, request_spec)
                if not passed:
                    for picked in placed:  # all or nothing: give back what earlier picks took
                        picked.consume(request_spec["flavor"], -1)
                    counts = ", ".join(f"{name} removed {n}" for name, n in removed if n)
                    raise NoValidHost(
                        reason="There are not enough hosts available. "
                        f"({len(candidates)} hosts: {counts or 'none'})"
                    )
                best = weigh(passed, self.weighers)[0]
                best.consume(request_spec["flavor"])
                placed.append(best)
                chosen.append({"host": best.host, "nodename": best.host, "limits": {}})
        for uuid in instance_uuids:
            flow_step(self.bus, 11, request_id, instance_uuid=uuid)
        return chosen

    def update_host(self, ctxt: RequestContext | None, host_state: dict[str, Any]) -> None:
        self.hosts.update_host(host_state)

    def refresh(self, ctxt: RequestContext | None) -> None:
        self.hosts.refresh()
