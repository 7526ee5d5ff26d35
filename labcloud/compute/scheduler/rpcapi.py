"""RPC client for nova-scheduler (topic ``scheduler`` on the ``nova`` exchange)."""

from __future__ import annotations

from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport


class SchedulerAPI:
    def __init__(self, transport: Transport, *, service: str = "nova-conductor") -> None:
        self.client = RPCClient(
            transport, Target(exchange="nova", topic="scheduler"), service=service
        )

    def select_destinations(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(
            ctxt, "select_destinations", request_spec=request_spec, instance_uuids=instance_uuids
        )
        return result

    def update_host(self, ctxt: RequestContext, host_state: dict[str, Any]) -> None:
        self.client.prepare(fanout=True).cast(ctxt, "update_host", host_state=host_state)
