"""The trace tap: one MessageEvent per publish, delivery, acknowledgement and rejection.

The RPC client and server call the tap at each of those points. When no one listens for
MessageEvents (nobody subscribes to the bus, or only for other event types), every tap
method returns before building anything, so tracing costs next to nothing in a cloud no one
watches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labcloud.trace.bus import TraceBus
from labcloud.trace.events import MessageEvent, Origin


def _args_of(msg: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if msg is None:
        return None
    if kind == "reply":
        return {"result": msg.get("result"), "failure": msg.get("failure")}
    args = msg.get("args")
    return args if isinstance(args, dict) else None


class Tap:
    """Builds events only when the bus has subscribers."""

    def __init__(self, bus: TraceBus, origin: Origin) -> None:
        self.bus = bus
        self.origin = origin

    @property
    def active(self) -> bool:
        return self.bus.wants(MessageEvent)

    def emit(
        self,
        event: str,
        kind: str,
        *,
        exchange: str,
        routing_key: str,
        queue: str = "",
        msg: Mapping[str, Any] | None = None,
        size: int = 0,
        service: str = "",
        reason: str = "",
    ) -> None:
        if not self.bus.wants(MessageEvent):
            return
        msg = msg or {}
        self.bus.emit(
            MessageEvent(
                event=event,
                kind=kind,
                exchange=exchange,
                routing_key=routing_key,
                queue=queue,
                method=str(msg.get("method", "")),
                msg_id=str(msg.get("_msg_id") or ""),
                unique_id=str(msg.get("_unique_id") or ""),
                request_id=str(msg.get("_context_request_id") or ""),
                args=_args_of(msg, kind) if msg else None,
                size=size,
                reason=reason,
                host=self.origin.host,
                process=self.origin.process,
                service=service or self.origin.service,
            )
        )
