"""The RPC client for nova-compute: every method a nova-compute serves, by nova's names.

Casts go to ``compute.<host>`` on the ``nova`` exchange; nothing waits for them. Volume
attach and detach are calls, because the caller needs to know they happened.
"""

from __future__ import annotations

from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport

TOPIC = "compute"


class ComputeAPI:
    def __init__(self, transport: Transport, *, service: str = "") -> None:
        self.client = RPCClient(transport, Target(exchange="nova", topic=TOPIC), service=service)

    def _host(self, host: str) -> RPCClient:
        return self.client.prepare(server=host)

    def build_and_run_instance(
        self,
        ctxt: RequestContext,
        host: str,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        attempt: int,
    ) -> None:
        self._host(host).cast(
            ctxt,
            "build_and_run_instance",
            instance=instance,
            request_spec=request_spec,
            attempt=attempt,
        )

    def terminate_instance(self, ctxt: RequestContext, host: str, instance: dict[str, Any]) -> None:
        self._host(host).cast(ctxt, "terminate_instance", instance=instance)

    def reboot_instance(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], reboot_type: str
    ) -> None:
        self._host(host).cast(ctxt, "reboot_instance", instance=instance, reboot_type=reboot_type)

    def external_instance_event(
        self,
        ctxt: RequestContext,
        host: str,
        instances: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> None:
        """What other services said about instances on ``host`` (nova-api, for neutron)."""
        self._host(host).cast(ctxt, "external_instance_event", instances=instances, events=events)

    def get_console_output(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], tail_length: int | None
    ) -> str:
        output = self._host(host).call(
            ctxt, "get_console_output", instance=instance, tail_length=tail_length
        )
        return str(output)

    def power_action(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], method: str
    ) -> None:
        """stop_instance, start_instance, suspend_instance or resume_instance."""
        self._host(host).cast(ctxt, method, instance=instance)

    # -- resize: nova-conductor -> prep_resize (dest) -> resize_instance (source) ->
    # finish_resize (dest); then confirm_resize (source) or revert_resize (dest) ->
    # finish_revert_resize (source).
    def prep_resize(self, ctxt: RequestContext, host: str, instance: dict[str, Any]) -> None:
        self._host(host).cast(ctxt, "prep_resize", instance=instance)

    def resize_instance(self, ctxt: RequestContext, host: str, instance: dict[str, Any]) -> None:
        self._host(host).cast(ctxt, "resize_instance", instance=instance)

    def finish_resize(self, ctxt: RequestContext, host: str, instance: dict[str, Any]) -> None:
        self._host(host).cast(ctxt, "finish_resize", instance=instance)

    def confirm_resize(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], *, cast: bool = True
    ) -> None:
        """A cast; a call (``cast=False``) when a delete must wait for it, as in nova."""
        client = self._host(host)
        (client.cast if cast else client.call)(ctxt, "confirm_resize", instance=instance)

    def revert_resize(self, ctxt: RequestContext, host: str, instance: dict[str, Any]) -> None:
        self._host(host).cast(ctxt, "revert_resize", instance=instance)

    def finish_revert_resize(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any]
    ) -> None:
        self._host(host).cast(ctxt, "finish_revert_resize", instance=instance)

    def attach_volume(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], volume_id: str, device: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._host(host).call(
            ctxt, "attach_volume", instance=instance, volume_id=volume_id, device=device
        )
        return result

    def detach_volume(
        self, ctxt: RequestContext, host: str, instance: dict[str, Any], volume_id: str
    ) -> None:
        self._host(host).call(ctxt, "detach_volume", instance=instance, volume_id=volume_id)
