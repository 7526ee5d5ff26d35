"""RPC clients for cinder-scheduler and cinder-volume, on the ``cinder`` exchange."""

from __future__ import annotations

from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport


class SchedulerAPI:
    def __init__(self, transport: Transport) -> None:
        self.client = RPCClient(
            transport, Target(exchange="cinder", topic="cinder-scheduler"), service="cinder-api"
        )

    def create_volume(self, ctxt: RequestContext, volume: dict[str, Any]) -> None:
        self.client.cast(ctxt, "create_volume", volume=volume)


class VolumeAPI:
    def __init__(self, transport: Transport, *, service: str) -> None:
        self.client = RPCClient(
            transport, Target(exchange="cinder", topic="cinder-volume"), service=service
        )

    def create_volume(self, ctxt: RequestContext, host: str, volume: dict[str, Any]) -> None:
        self.client.prepare(server=host).cast(ctxt, "create_volume", volume=volume)

    def delete_volume(self, ctxt: RequestContext, host: str, volume_id: str) -> None:
        self.client.prepare(server=host).cast(ctxt, "delete_volume", volume_id=volume_id)

    def create_snapshot(self, ctxt: RequestContext, host: str, snapshot: dict[str, Any]) -> None:
        self.client.prepare(server=host).cast(ctxt, "create_snapshot", snapshot=snapshot)

    def delete_snapshot(self, ctxt: RequestContext, host: str, snapshot_id: str) -> None:
        self.client.prepare(server=host).cast(ctxt, "delete_snapshot", snapshot_id=snapshot_id)

    def initialize_connection(
        self, ctxt: RequestContext, host: str, volume_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.client.prepare(server=host).call(
            ctxt, "initialize_connection", volume_id=volume_id, connector=connector
        )
        return result

    def terminate_connection(
        self, ctxt: RequestContext, host: str, volume_id: str, connector: dict[str, Any]
    ) -> None:
        self.client.prepare(server=host).call(
            ctxt, "terminate_connection", volume_id=volume_id, connector=connector
        )
