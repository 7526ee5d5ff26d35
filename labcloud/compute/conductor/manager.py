"""nova-conductor's manager: the RPC endpoint behind topic ``conductor``.

Builds: ask nova-scheduler for hosts (a call), then cast ``build_and_run_instance`` to each
chosen ``compute.<host>``. A build that fails on a host comes back here through
``build_instances`` and is scheduled again without that host, at most ``MAX_ATTEMPTS``
times in all (nova's ``scheduler.max_attempts``). NoValidHost puts the instance in ERROR
with a fault, and (the build's first scheduling only) an Error event
``conductor_schedule_and_build_instances``, as nova records when it buries the instance
in cell0; a resize's scheduling is the event ``conductor_migrate_server``. A build that can
no longer finish (its host down, or no progress for ``instance_build_timeout``) ends in
ERROR too, and its ports are given back to neutron (labcloud's choice: nova's build timeout
only sets ERROR).

Before scheduling a build, the project's quota is counted again with the new instances in
it (nova's ``[quota] recheck_quota``, since Pike: usage is counted, nothing reserved): two
requests that both passed nova-api's check at once may have gone over, and then their
instances end in ERROR with the quota's fault, as nova's ``_cleanup_build_artifacts``
leaves them (both may fail; neither gets more than the quota).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import Table, bindparam, insert, select, update

from labcloud.compute.clients import NeutronClient, release_ports
from labcloud.compute.events import EventReporter
from labcloud.compute.instance_actions import InstanceActions
from labcloud.compute.instances import Instances, now
from labcloud.compute.models import ComputeNode
from labcloud.compute.quotas import QuotaExceeded, Quotas
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.servicegroup import ServiceGroup, parse_time, utcnow
from labcloud.compute.states import VmState
from labcloud.context import RequestContext
from labcloud.exceptions import (
    InstanceNotFound,
    LabCloudError,
    NoValidHost,
    UnexpectedVMStateError,
)
from labcloud.trace.flow import flow_step

LOG = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


class Scheduler(Protocol):
    def select_destinations(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[dict[str, Any]]: ...

    def update_host(self, ctxt: RequestContext, host_state: dict[str, Any]) -> None: ...


def service_context(user: str, token: str) -> RequestContext:
    """The nova service user's context: neutron lets it free the ports of any project."""
    return RequestContext(user_name=user, roles=("service",), auth_token=token)


class ConductorManager:
    def __init__(
        self,
        instances: Instances,
        scheduler: Scheduler,
        compute: ComputeAPI,
        servicegroup: ServiceGroup | None = None,
        *,
        host: str = "controller",
        quota_defaults: Callable[[], Mapping[str, int]] | None = None,
        neutron: NeutronClient | None = None,
        service_context: Callable[[], RequestContext] | None = None,
    ) -> None:
        """``neutron`` and ``service_context`` (the service user's, for any project's ports):
        to free the ports of builds given up; without them, they stay until a delete."""
        self.instances = instances
        self.scheduler = scheduler
        self.compute = compute
        self.servicegroup = servicegroup or ServiceGroup()
        self.host = host
        self.actions = InstanceActions(instances.db)
        # nova's [quota] defaults as nova-api has them now (a project's own limits are rows)
        self.quota_defaults = quota_defaults or dict
        self.neutron = neutron
        self.service_context = service_context
        self._unreleased: dict[str, dict[str, Any]] = {}  # given up, ports not yet released

    def schedule_and_build_instances(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> None:
        if not self._recheck_quota(request_spec, instance_uuids):
            return
        try:
            self._schedule(ctxt, request_spec, instance_uuids, attempt=1)
        except NoValidHost as exc:
            with EventReporter(
                self, ctxt, "conductor_schedule_and_build_instances", self.host, *instance_uuids
            ) as event:
                event.failure = exc

    def _recheck_quota(self, spec: dict[str, Any], uuids: list[str]) -> bool:
        """nova's recheck: the usage, new instances included, within the limits (no delta)."""
        quotas = Quotas(self.instances, self.quota_defaults())
        try:
            quotas.check(spec.get("project_id") or "", spec["flavor"], 0)
        except QuotaExceeded as exc:
            for uuid in uuids:
                self._error(uuid, str(exc))
            return False
        return True

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
        with contextlib.suppress(NoValidHost):  # the instances are in ERROR, with a fault
            self._schedule(ctxt, request_spec, instance_uuids, attempt=attempt)

    def _schedule(
        self, ctxt: RequestContext, spec: dict[str, Any], uuids: list[str], attempt: int
    ) -> None:
        """Choose the hosts and cast the builds; NoValidHost: ERROR, then raised."""
        try:
            hosts = self.scheduler.select_destinations(ctxt, spec, uuids)
        except NoValidHost as exc:
            for uuid in uuids:
                self._error(uuid, str(exc))
            raise
        # as nova's schedule_and_build_instances: first every instance gets its host (here
        # in one transaction, where nova saves each), then each build is cast, one at a time
        chosen = list(zip(uuids, hosts, strict=True))
        placed = self.instances.update_many(
            [(uuid, {"host": c["host"], "node": c.get("nodename")}) for uuid, c in chosen]
        )
        for instance, (uuid, host) in zip(placed, chosen, strict=False):
            flow_step(self.instances.bus, 12, ctxt, instance_uuid=uuid)
            # the host gets its own instance's spec, not the whole request's uuids (a cast
            # of 1,000 instances would carry 1,000 uuids, each: quadratic in the request)
            own = spec | {"instance_uuids": [uuid], "num_instances": 1}
            self.compute.build_and_run_instance(ctxt, host["host"], instance, own, attempt)
        if len(placed) < len(chosen):  # deleted while it was being scheduled
            raise InstanceNotFound(instance_id=chosen[len(placed)][0])

    def migrate_server(
        self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]
    ) -> None:
        """A resize: choose a host with room for ``flavor`` (the current one may do)."""
        with EventReporter(
            self, ctxt, "conductor_migrate_server", self.host, instance_uuid
        ) as event:
            try:
                self._migrate_server(ctxt, instance_uuid, flavor)
            except NoValidHost as exc:
                event.failure = exc
                self.instances.update(instance_uuid, {"task_state": None})
                self.instances.add_fault(instance_uuid, 500, str(exc))

    def _migrate_server(
        self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]
    ) -> None:
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
        (chosen,) = self.scheduler.select_destinations(ctxt, spec, [instance_uuid])
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
        queue). Their ports go back to neutron (volumes stay attached until the instance is
        deleted, as in nova). Returns the uuids.
        """
        for inst in list(self._unreleased.values()):  # a release that failed last time
            self._release_ports(inst)
        with self.instances.db.read() as c:
            last_report = dict(c.execute(_LAST_REPORTS).all())
        failed = []
        for inst in self.instances.in_state(VmState.BUILDING):
            host = inst["host"]
            idle = (utcnow() - (parse_time(inst["updated_at"]) or utcnow())).total_seconds()
            if host is not None and not self.servicegroup.is_up(last_report.get(host)):
                silent = self.servicegroup.silent_for(last_report.get(host))
                since = "never reported" if silent is None else f"silent for {silent:.0f} s"
                gave_up = self._error(
                    inst["uuid"],
                    f"Build of instance {inst['uuid']} aborted: compute host {host} is down",
                    f"nova-compute on {host} {since} (service_down_time "
                    f"{self.servicegroup.down_time:g} s)",
                )
            elif build_timeout and idle > build_timeout:
                gave_up = self._error(
                    inst["uuid"],
                    "Instance build timed out. Set to error state.",
                    f"no progress for {idle:.0f} s in task state {inst['task_state']} "
                    f"(build_timeout {build_timeout:g} s)",
                )
            else:
                continue
            if gave_up:  # its ports: those of its requested networks
                self._release_ports(self.instances.get(inst["uuid"], read_deleted=True))
                failed.append(inst["uuid"])
        return failed

    def _release_ports(self, instance: dict[str, Any]) -> None:
        """The ports of a build given up: deleted (the user's own unbound), so no address
        stays allocated to an instance that will never run. A failure (neutron or keystone
        briefly unavailable) is tried again at the next check of the builds."""
        if self.neutron is None or self.service_context is None:
            return
        try:
            release_ports(self.neutron, self.service_context(), instance)
        except (LabCloudError, httpx.HTTPError):
            LOG.warning("ports of %s not released: trying again", instance["uuid"], exc_info=True)
            self._unreleased[instance["uuid"]] = instance
        else:
            self._unreleased.pop(instance["uuid"], None)

    def _error(self, uuid: str, message: str, details: str = "") -> bool:
        """A build ends in ERROR with a fault; False if it was no longer building (its host
        finished it meanwhile: what it did stands)."""
        try:
            self.instances.update(
                uuid,
                {"vm_state": VmState.ERROR, "task_state": None},
                expected_vm_state=VmState.BUILDING,
                fault=(500, message, details),
            )
        except UnexpectedVMStateError as exc:
            LOG.info("instance %s not put in ERROR: %s", uuid, exc)
            return False
        LOG.warning("instance %s goes to ERROR: %s %s", uuid, message, details)
        return True

    # -- database work for nova-compute ----------------------------------------------------
    def instance_get(self, ctxt: RequestContext, instance_uuid: str) -> dict[str, Any]:
        bus = self.instances.bus
        flow_step(bus, 15, ctxt, instance_uuid=instance_uuid)
        flow_step(bus, 16, ctxt, instance_uuid=instance_uuid)
        instance = self.instances.get(instance_uuid)
        flow_step(bus, 17, ctxt, instance_uuid=instance_uuid)
        return instance

    def action_event_start(
        self, ctxt: RequestContext, instance_uuid: str, event: str, host: str, start_time: str
    ) -> None:
        """An event of the request's action begins (nova's ``InstanceActionEvent.event_start``,
        which nova-compute sends through the conductor)."""
        self.actions.event_start(
            instance_uuid, ctxt.request_id, event, host, datetime.fromisoformat(start_time)
        )

    def action_event_finish(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        event: str,
        finish_time: str,
        traceback: str | None,
        details: str | None,
    ) -> None:
        self.actions.event_finish(
            instance_uuid,
            ctxt.request_id,
            event,
            datetime.fromisoformat(finish_time),
            traceback,
            details,
        )

    def instance_get_all_by_host(self, ctxt: RequestContext, host: str) -> list[dict[str, Any]]:
        return self.instances.where(host=host)

    def instance_update(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        updates: dict[str, Any],
        expected_vm_state: str | None = None,
    ) -> dict[str, Any]:
        if "launched_at" in updates and updates["launched_at"] == "now":
            updates = updates | {"launched_at": now()}
        return self.instances.update(instance_uuid, updates, expected_vm_state=expected_vm_state)

    def instance_remove_vif(self, ctxt: RequestContext, instance_uuid: str, port_id: str) -> None:
        self.instances.remove_vif(instance_uuid, port_id)

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
        db = self.instances.db
        with db.transaction() as c:  # every report of every host: Core, one round trip
            changed = values | {"updated_at": utcnow()}  # to the microsecond: see servicegroup
            row = c.execute(_UPDATE_NODE, changed | {"where_host": host}).mappings().first()
            op = "update"
            if row is None:  # its first report
                # column defaults apply only at INSERT: set them here, or the row reported
                # to the schedulers says enabled=None (and the host looks disabled)
                first = {"host": host, "vcpus": 0, "memory_mb": 0, "local_gb": 0, "enabled": True}
                row = c.execute(_INSERT_NODE, first | changed).mappings().one()
                op = "insert"
            db.record(c, NODES.name, op, host)
            node = dict(row)
        node["updated_at"] = node["updated_at"].isoformat() if node["updated_at"] else None
        self.scheduler.update_host(ctxt, node)


NODES: Table = ComputeNode.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_UPDATE_NODE = update(NODES).where(NODES.c.host == bindparam("where_host")).returning(*NODES.c)
_INSERT_NODE = insert(NODES).returning(*NODES.c)
_LAST_REPORTS = select(NODES.c.host, NODES.c.updated_at)
