"""The request context: who is asking, for which project, and under which request id.

It mirrors oslo.context's RequestContext: on the wire it travels as ``_context_<key>``
fields of every RPC message, so a nova service can read the same keys from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
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
    # keys other clients put on the wire (nova's ``read_deleted``, ``service_catalog``...):
    # kept, so a service that passes the context on passes them on too, as nova's does
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The keys oslo.context puts on the wire (plus the legacy ``user``/``tenant``)."""
        data = dict(self.extra)
        data.update((name, getattr(self, name)) for name in _field_names())
        data["roles"] = list(self.roles)
        data["user"] = self.user_id
        data["tenant"] = self.project_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestContext:
        """Rebuild a context from its wire form; keys it does not know are kept in ``extra``.

        Raises TypeError when ``roles`` is not a list of names.
        """
        roles = data.get("roles") or ()
        if isinstance(roles, str) or not isinstance(roles, list | tuple):
            raise TypeError(f"roles must be a list of names, not {roles!r}")
        known = _known_keys()
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
            extra={k: v for k, v in data.items() if k not in known},
        )


@cache
def _field_names() -> tuple[str, ...]:
    """The fields that go on the wire (every message carries them: looked up once)."""
    return tuple(f.name for f in fields(RequestContext) if f.name != "extra")


@cache
def _known_keys() -> frozenset[str]:
    return frozenset({f.name for f in fields(RequestContext)} | {"user", "tenant"})


def get_admin_context() -> RequestContext:
    """A context for work the cloud does on its own behalf (periodic tasks, start-up)."""
    return RequestContext(is_admin=True, roles=("admin",))
