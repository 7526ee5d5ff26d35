"""RPC client for nova-conductor (topic ``conductor`` on the ``nova`` exchange)."""

from __future__ import annotations

from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport


class ConductorAPI:
    def __init__(self, transport: Transport, *, service: str = "") -> None:
        self.client = RPCClient(
            transport, Target(exchange="nova", topic="conductor"), service=service
        )

    # -- ComputeTaskAPI: builds ----------------------------------------------------------
    def schedule_and_build_instances(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> None:
        self.client.cast(
            ctxt,
            "schedule_and_build_instances",
            request_spec=request_spec,
            instance_uuids=instance_uuids,
        )

    def build_instances(
        self,
        ctxt: RequestContext,
        request_spec: dict[str, Any],
        instance_uuids: list[str],
        attempt: int,
        reason: str,
    ) -> None:
        """Reschedule after a failed build on ``request_spec["ignore_hosts"]``."""
        self.client.cast(
            ctxt,
            "build_instances",
            request_spec=request_spec,
            instance_uuids=instance_uuids,
            attempt=attempt,
            reason=reason,
        )

    def migrate_server(
        self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]
    ) -> None:
        """Resize: pick a host for the new flavor and start the move there."""
        self.client.cast(ctxt, "migrate_server", instance_uuid=instance_uuid, flavor=flavor)

    # -- database work for nova-compute ----------------------------------------------------
    def instance_get(self, ctxt: RequestContext, instance_uuid: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(ctxt, "instance_get", instance_uuid=instance_uuid)
        return result

    def action_event_start(
        self, ctxt: RequestContext, instance_uuid: str, event: str, host: str, start_time: str
    ) -> None:
        self.client.call(
            ctxt,
            "action_event_start",
            instance_uuid=instance_uuid,
            event=event,
            host=host,
            start_time=start_time,
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
        self.client.call(
            ctxt,
            "action_event_finish",
            instance_uuid=instance_uuid,
            event=event,
            finish_time=finish_time,
            traceback=traceback,
            details=details,
        )

    def instance_get_all_by_host(self, ctxt: RequestContext, host: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(ctxt, "instance_get_all_by_host", host=host)
        return result

    def instance_update(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        expected_vm_state: str | None = None,
        **updates: Any,
    ) -> dict[str, Any]:
        """Write ``updates``; with ``expected_vm_state``, only if the instance is still in it
        (else UnexpectedVMStateError: a build the conductor gave up meanwhile)."""
        kwargs: dict[str, Any] = {"instance_uuid": instance_uuid, "updates": updates}
        if expected_vm_state is not None:
            kwargs["expected_vm_state"] = expected_vm_state
        result: dict[str, Any] = self.client.call(ctxt, "instance_update", **kwargs)
        return result

    def instance_remove_vif(self, ctxt: RequestContext, instance_uuid: str, port_id: str) -> None:
        """Drop a deleted port from the instance's network info (read and written in one
        transaction: a build writing its new ports meanwhile keeps them)."""
        self.client.call(ctxt, "instance_remove_vif", instance_uuid=instance_uuid, port_id=port_id)

    def instance_fault_create(
        self, ctxt: RequestContext, instance_uuid: str, code: int, message: str, details: str = ""
    ) -> None:
        self.client.call(
            ctxt,
            "instance_fault_create",
            instance_uuid=instance_uuid,
            code=code,
            message=message,
            details=details,
        )

    def instance_destroy(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self.client.call(ctxt, "instance_destroy", instance_uuid=instance_uuid)

    def compute_node_update(self, ctxt: RequestContext, host: str, values: dict[str, Any]) -> None:
        self.client.call(ctxt, "compute_node_update", host=host, values=values)
