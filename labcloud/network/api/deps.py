"""What neutron's routes depend on: the plugin (its managers), the caller's context, ids
that name a resource, list filters checked at the edge, and the request envelopes
(``{"network": {...}}`` or a bulk ``{"networks": [...]}``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, model_validator

from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.network.agents_db import AgentsDb
from labcloud.network.floatingips import FloatingIPManager
from labcloud.network.manager import NetworkManager
from labcloud.network.ports import PortManager
from labcloud.network.quotas import NetworkQuotas
from labcloud.network.routers import RouterManager
from labcloud.network.schemas.types import NAME_MAX_LEN, not_null_in_schema
from labcloud.network.secgroups import SecurityGroupManager
from labcloud.rest.auth import require_token

# query parameters that page, sort or pick fields rather than filter
NOT_FILTERS = ("fields", "limit", "marker", "page_reverse", "sort_dir", "sort_key")


@dataclass(frozen=True)
class Plugin:
    """neutron's core and service plugins: one manager per kind of resource."""

    networks: NetworkManager
    ports: PortManager
    groups: SecurityGroupManager
    routers: RouterManager
    floatingips: FloatingIPManager
    agents: AgentsDb
    quotas: NetworkQuotas


# The dependencies below are ``async def`` though they never wait: FastAPI runs a plain
# ``def`` dependency in a worker thread, a hop to the thread pool and back per dependency
# and request, for what takes a microsecond on the event loop.
async def _plugin(request: Request) -> Plugin:
    plugin: Plugin = request.app.state.plugin
    return plugin


async def _context(request: Request) -> RequestContext:
    return await require_token(request.app.state.validator)(request)


NeutronPlugin = Annotated[Plugin, Depends(_plugin)]
Ctxt = Annotated[RequestContext, Depends(_context)]


def resource_id(not_found: Callable[[str], LabCloudError]) -> Callable[[str], Awaitable[str]]:
    """A check of a path's id: neutron's ids are UUIDs, so any other names no resource
    (404, as neutron answers) and never reaches the database."""

    async def check(ident: str) -> str:
        try:
            return str(uuid.UUID(ident)) if len(ident) == 36 else _raise(not_found(ident))
        except ValueError:
            return _raise(not_found(ident[:64]))

    return check


def _raise(exc: LabCloudError) -> str:
    raise exc


class Filters(BaseModel):
    """A list's query: any attribute filters (``?name=x&shared=true``, repeated for any of
    several values); each value a string a column could hold (at most 255 characters, no
    NUL byte)."""

    model_config = ConfigDict(extra="allow")
    fields: list[str] | None = None  # the attributes to answer with (api/fields.py)

    @model_validator(mode="before")
    @classmethod
    def _plain_strings(cls, data: Any) -> Any:
        for key, value in dict(data).items():
            for one in value if isinstance(value, list) else [value]:
                if not isinstance(one, str) or len(one) > NAME_MAX_LEN or "\x00" in one:
                    raise ValueError(f"{key}: a filter is a string of at most {NAME_MAX_LEN}")
        return data

    def filters(self) -> dict[str, str | list[str]]:
        """The attribute filters, ``tenant_id`` as ``project_id``."""
        found = self.model_dump(by_alias=True, exclude_none=True)
        for key in NOT_FILTERS:
            found.pop(key, None)
        if "tenant_id" in found:
            found["project_id"] = found.pop("tenant_id")
        return found


class Envelope(BaseModel):
    """``{"<resource>": {...}}`` or, to create several at once, ``{"<resources>": [...]}``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=not_null_in_schema)

    def _given(self) -> list[str]:
        return [key for key in self.model_fields_set if getattr(self, key) is not None]

    @model_validator(mode="after")
    def _exactly_one(self) -> Envelope:
        if len(self._given()) != 1:
            names = " or ".join(type(self).model_fields)
            raise ValueError(f"the body must hold exactly one of {names}")
        return self

    def items(self) -> tuple[str, list[dict[str, Any]]]:
        """(the key the client used, each resource's attributes by their wire names)."""
        (key,) = self._given()
        value = getattr(self, key)
        values = value if isinstance(value, list) else [value]
        return key, [v.attrs() for v in values]
