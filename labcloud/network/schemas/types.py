"""The attribute types of neutron-lib's validators (``type:uuid``, ``type:ip_address``,
``type:mac_address``, ``type:subnet``...), as pydantic types for the request models.

Strings are bounded as neutron's columns are (names 255, descriptions 255) and refuse NUL
bytes, which PostgreSQL cannot store: a bad value is a 400 at the edge, never a database
error behind it.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

NAME_MAX_LEN = 255  # neutron-lib's db_const.NAME_FIELD_SIZE
DESCRIPTION_MAX_LEN = 255
DEVICE_ID_MAX_LEN = 255
PROJECT_ID_MAX_LEN = 255
MAC = re.compile(r"^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$", re.IGNORECASE)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("the string contains a NUL byte")
    return value


NoNul = AfterValidator(_no_nul)
Name = Annotated[str, StringConstraints(max_length=NAME_MAX_LEN), NoNul]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX_LEN), NoNul]
ProjectId = Annotated[str, StringConstraints(max_length=PROJECT_ID_MAX_LEN), NoNul]
DeviceField = Annotated[str, StringConstraints(max_length=DEVICE_ID_MAX_LEN), NoNul]
PhysNet = Annotated[str, StringConstraints(max_length=64), NoNul]  # the column's size


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value)) if len(value) in (32, 36) else _bad_uuid(value)
    except ValueError:
        return _bad_uuid(value)


def _bad_uuid(value: str) -> str:
    raise ValueError(f"'{value}' is not a valid UUID")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP address") from None


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP subnet") from None


def _mac(value: str) -> str:
    if not MAC.match(value):
        raise ValueError(f"'{value}' is not a valid MAC address")
    mac = value.lower().replace("-", ":")
    if mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1:
        raise ValueError(f"'{value}' is not a valid unicast MAC address")
    return mac


Uuid = Annotated[str, StringConstraints(max_length=36), AfterValidator(_uuid)]
IpAddress = Annotated[str, StringConstraints(max_length=64), AfterValidator(_ip)]
Cidr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_cidr)]
MacAddress = Annotated[str, StringConstraints(max_length=17), AfterValidator(_mac)]


def not_null_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The OpenAPI document says what the validator does: only NULLABLE attributes take null."""
    nullable: frozenset[str] = getattr(model, "NULLABLE", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name not in nullable and "anyOf" in prop:
            kept = [choice for choice in prop["anyOf"] if choice.get("type") != "null"]
            if len(kept) == 1:
                prop.update(kept[0])
                del prop["anyOf"]
            else:
                prop["anyOf"] = kept
            if prop.get("default", 0) is None:
                del prop["default"]


class Body(BaseModel):
    """A resource's attributes: unknown ones are refused, as neutron answers
    ``Unrecognized attribute(s)``; ``router:external`` and friends by their wire names.
    An attribute may be left out; only those in NULLABLE may be sent as null."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=not_null_in_schema
    )
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null(self) -> Self:
        for name in self.model_fields_set:
            wire = type(self).model_fields[name].alias or name
            if getattr(self, name) is None and wire not in self.NULLABLE:
                raise ValueError(f"{wire}: null is not allowed")
        return self

    def attrs(self) -> dict[str, Any]:
        """The attributes the client sent, by their wire names."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class Owned(Body):
    """A resource created in a project: ``project_id`` or the older ``tenant_id``."""

    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class View(BaseModel):
    """A response: the documented attributes, and any others neutron adds kept as they are."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Stamped(View):
    id: str
    project_id: str
    tenant_id: str
    description: str = ""
    created_at: str
    updated_at: str
    revision_number: int
    tags: list[str] = Field(default_factory=list)
