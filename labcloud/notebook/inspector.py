"""MessageInspector: the last messages on the broker, decoded, filterable, one pinned."""

from __future__ import annotations

from collections import deque
from typing import Any

import anywidget
import traitlets

from labcloud.notebook.publisher import css, esm
from labcloud.trace.events import MessageEvent


def row(e: MessageEvent) -> dict[str, Any]:
    return {
        "id": e.unique_id or e.msg_id or f"{e.time}",
        "time": e.time,
        "kind": e.kind,
        "method": e.method,
        "exchange": e.exchange,
        "routing_key": e.routing_key,
        "service": e.service,
        "request_id": e.request_id,
        "msg_id": e.msg_id,
        "size": e.size,
        "args": e.args,
    }


class MessageInspector(anywidget.AnyWidget):
    """Each published message once (its ``publish`` event), newest first: the last ``limit``
    (500) are kept, the view shows them 50 a page and filters over all of them."""

    _esm = esm("inspector")
    _css = css("inspector")
    messages = traitlets.List[dict[str, Any]]([]).tag(sync=True)
    filter = traitlets.Unicode("").tag(sync=True)  # typed by the user in the view
    pinned = traitlets.Dict({}).tag(sync=True)  # the message clicked on (kept while scrolling)
    limit = traitlets.Int(500).tag(sync=True)

    def __init__(self, limit: int = 500, **kwargs: Any) -> None:
        super().__init__(limit=limit, **kwargs)
        self._rows: deque[dict[str, Any]] = deque(maxlen=limit)

    def due(self) -> bool:
        """Only messages change what it shows."""
        return False

    def due_in(self) -> float | None:
        return None

    def take(self, events: list[Any]) -> None:
        fresh = [row(e) for e in events if isinstance(e, MessageEvent) and e.event == "publish"]
        if fresh:
            self._rows.extend(fresh)
            self.messages = list(reversed(self._rows))

    def pin(self, method: str) -> dict[str, Any]:
        """Pin the newest message with this RPC method (also done by clicking a row)."""
        found = next((m for m in self.messages if m["method"] == method), None)
        if found is None:
            raise LookupError(f"no {method!r} message among the last {len(self.messages)}")
        self.pinned = found
        return dict(found)
