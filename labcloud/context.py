"""The request context: who is asking, for which project, and under which request id.

It mirrors oslo.context's RequestContext: on the wire it travels as ``_context_<key>``
fields of every RPC message, so a nova service can read the same keys from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


def new_request_id() -> str:
    """A request id in OpenStack's form, ``req-<uuid>``."""
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestContext:
    """Identity and request id of one API request, carried across every service it reaches."""

    user_id: str | None = None
    project_id: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    auth_token: str | None = None
    request_id: str = field(default_factory=new_request_id)
    global_request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The keys oslo.context puts on the wire (plus the legacy ``user``/``tenant``)."""
        data = asdict(self)
        data["roles"] = list(self.roles)
        data["user"] = self.user_id
        data["tenant"] = self.project_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestContext:
        """Rebuild a context from its wire form; unknown keys (from other clients) are ignored."""
        roles = data.get("roles") or ()
        return cls(
            user_id=data.get("user_id") or data.get("user"),
            project_id=data.get("project_id") or data.get("tenant"),
            user_name=data.get("user_name"),
            project_name=data.get("project_name"),
            roles=tuple(str(r) for r in roles),
            is_admin=bool(data.get("is_admin", False)),
            auth_token=data.get("auth_token"),
            request_id=data.get("request_id") or new_request_id(),
            global_request_id=data.get("global_request_id"),
        )


def get_admin_context() -> RequestContext:
    """A context for work the cloud does on its own behalf (periodic tasks, start-up)."""
    return RequestContext(is_admin=True, roles=("admin",))
