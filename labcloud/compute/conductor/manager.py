"""nova-conductor's manager: the RPC endpoint behind topic ``conductor``.

Builds: ask nova-scheduler for hosts (a call), then cast ``build_and_run_instance`` to each
chosen ``compute.<host>``. A build that fails on a host comes back here through
``build_instances`` and is scheduled again without that host, at most ``MAX_ATTEMPTS``
times in all (nova's ``scheduler.max_attempts``). NoValidHost puts the instance in ERROR
with a fault.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from labcloud.compute.instances import Instances, now
from labcloud.compute.models import ComputeNode
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.servicegroup import ServiceGroup, parse_time, utcnow
from labcloud.compute.states import VmState
from labcloud.context import RequestContext
from labcloud.exceptions import NoValidHost
from labcloud.trace.flow import emit_step

LOG = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


class Scheduler(Protocol):
    def select_destinations(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[dict[str, Any]]: ...

    def update_host(self, ctxt: RequestContext, host_state: dict[str, Any]) -> None: ...


class ConductorManager:
    def __init__(
        self,
        instances: Instances,
        scheduler: Scheduler,
        compute: ComputeAPI,
        servicegroup: ServiceGroup | None = None,
    ) -> None:
        self.instances = instances
        self.scheduler = scheduler
        self.compute = compute
        self.servicegroup = servicegroup or ServiceGroup()

    def schedule_and_build_instances(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> None:
        self._schedule(ctxt, request_spec, instance_uuids, attempt=1)

    def build_instances(
        self,
        ctxt: RequestContext,
        request_spec: dict[str, Any],
        instance_uuids: list[str],
        attempt: int,
        reason: str,
    ) -> None:
        if attempt > MAX_ATTEMPTS:
            message = (
                "Exceeded maximum number of retries. Exhausted all hosts available for "
                f"retrying build failures for instance {instance_uuids[0]}."
            )
            for uuid in instance_uuids:
                self._error(uuid, message, reason)
            return
        self._schedule(ctxt, request_spec, instance_uuids, attempt=attempt)

    def _schedule(
        self, ctxt: RequestContext, spec: dict[str, Any], uuids: list[str], attempt: int
    ) -> None:
        try:
            hosts = self.scheduler.select_destinations(ctxt, spec, uuids)
        except NoValidHost as exc:
            for uuid in uuids:
                self._error(uuid, str(exc))
            return
        for uuid, chosen in zip(uuids, hosts, strict=True):
            # one at a time, as nova does: builds reach the hosts at the pace they can take
            instance = self.instances.update(
                uuid, {"host": chosen["host"], "node": chosen.get("nodename")}
            )
            emit_step(self.instances.bus, 12, instance_uuid=uuid, request_id=ctxt.request_id)
            self.compute.build_and_run_instance(ctxt, chosen["host"], instance, spec, attempt)

    def migrate_server(
        self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]
    ) -> None:
        """A resize: choose a host with room for ``flavor`` (the current one may do)."""
        instance = self.instances.get(instance_uuid)
        spec = {
            "instance_uuids": [instance_uuid],
            "flavor": flavor,
            "num_instances": 1,
            "image_properties": {},
            "availability_zone": instance["availability_zone"],
            "ignore_hosts": [],
            "project_id": instance["project_id"],
            "block_devices": [],
        }
        try:
            (chosen,) = self.scheduler.select_destinations(ctxt, spec, [instance_uuid])
        except NoValidHost as exc:
            self.instances.update(instance_uuid, {"task_state": None})
            self.instances.add_fault(instance_uuid, 500, str(exc))
            return
        migration = {
            "source_compute": instance["host"],
            "dest_compute": chosen["host"],
            "status": "pre-migrating",
            "new_flavor": flavor,
            "old_vm_state": instance["vm_state"],
        }
        instance = self.instances.update(instance_uuid, {"migration": migration})
        self.compute.prep_resize(ctxt, chosen["host"], instance)

    def check_builds(self, build_timeout: float = 0) -> list[str]:
        """A periodic task: builds that can no longer finish end in ERROR.

        A build waiting on a compute host that is down: its message sits in the dead
        host's queue (or died with it) and nothing would ever move the instance out of
        BUILD. With ``build_timeout`` (seconds, nova's ``instance_build_timeout``; 0: off),
        also any build that has not moved for that long (a message lost with a broker's
        queue). Ports and volumes stay until the instance is deleted. Returns the uuids.
        """
        with self.instances.db.session() as s:
            last_report = {n.host: n.updated_at for n in s.scalars(select(ComputeNode))}
        failed = []
        for inst in self.instances.where(vm_state=VmState.BUILDING):
            host = inst["host"]
            idle = (utcnow() - (parse_time(inst["updated_at"]) or utcnow())).total_seconds()
            if host is not None and not self.servicegroup.is_up(last_report.get(host)):
                silent = self.servicegroup.silent_for(last_report.get(host))
                since = "never reported" if silent is None else f"silent for {silent:.0f} s"
                self._error(
                    inst["uuid"],
                    f"Build of instance {inst['uuid']} aborted: compute host {host} is down",
                    f"nova-compute on {host} {since} (service_down_time "
                    f"{self.servicegroup.down_time:g} s)",
                )
            elif build_timeout and idle > build_timeout:
                self._error(
                    inst["uuid"],
                    "Instance build timed out. Set to error state.",
                    f"no progress for {idle:.0f} s in task state {inst['task_state']} "
                    f"(build_timeout {build_timeout:g} s)",
                )
            else:
                continue
            failed.append(inst["uuid"])
        return failed

    def _error(self, uuid: str, message: str, details: str = "") -> None:
        LOG.warning("instance %s goes to ERROR: %s %s", uuid, message, details)
        self.instances.update(uuid, {"vm_state": VmState.ERROR, "task_state": None})
        self.instances.add_fault(uuid, 500, message, details)

    # -- database work for nova-compute ----------------------------------------------------
    def instance_get(self, ctxt: RequestContext, instance_uuid: str) -> dict[str, Any]:
        emit_step(self.instances.bus, 15, instance_uuid=instance_uuid, request_id=ctxt.request_id)
        emit_step(self.instances.bus, 16, instance_uuid=instance_uuid, request_id=ctxt.request_id)
        instance = self.instances.get(instance_uuid)
        emit_step(self.instances.bus, 17, instance_uuid=instance_uuid, request_id=ctxt.request_id)
        return instance

    def instance_get_all_by_host(self, ctxt: RequestContext, host: str) -> list[dict[str, Any]]:
        return self.instances.where(host=host)

    def instance_update(
        self, ctxt: RequestContext, instance_uuid: str, updates: dict[str, Any]
    ) -> dict[str, Any]:
        if "launched_at" in updates and updates["launched_at"] == "now":
            updates = updates | {"launched_at": now()}
        return self.instances.update(instance_uuid, updates)

    def instance_fault_create(
        self, ctxt: RequestContext, instance_uuid: str, code: int, message: str, details: str
    ) -> None:
        self.instances.add_fault(instance_uuid, code, message, details)

    def instance_destroy(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self.instances.update(
            instance_uuid, {"vm_state": VmState.DELETED, "task_state": None, "deleted": True}
        )

    def compute_node_update(self, ctxt: RequestContext, host: str, values: dict[str, Any]) -> None:
        """A compute host reports its usage: write it, and tell the schedulers (fanout)."""
        with self.instances.db.session() as s:
            node = _upsert_node(s, host, values)
            s.flush()
            row = {c.name: getattr(node, c.name) for c in ComputeNode.__table__.columns}
        row["updated_at"] = row["updated_at"].isoformat() if row["updated_at"] else None
        self.scheduler.update_host(ctxt, row)


def _upsert_node(s: Session, host: str, values: dict[str, Any]) -> ComputeNode:
    node = s.get(ComputeNode, host)
    if node is None:
        # column defaults apply only at INSERT: set them here, or the row reported to the
        # schedulers before the flush says enabled=None (and the host looks disabled)
        node = ComputeNode(host=host, vcpus=0, memory_mb=0, local_gb=0, enabled=True)
        s.add(node)
    for key, value in values.items():
        setattr(node, key, value)
    node.updated_at = utcnow()  # to the microsecond: service_down_time may be short
    return node
