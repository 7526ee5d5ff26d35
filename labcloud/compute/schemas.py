"""nova-api's request bodies and queries, checked at the edge as nova's JSON schemas check them
(nova/api/openstack/compute/schemas/servers.py, keypairs.py, quota_sets.py ...).

A request that breaks one gets 400 ``badRequest`` naming the field, before anything reaches
the database: PostgreSQL refuses a NUL byte or a string longer than its column with a
DataError, which would otherwise be a 500. labcloud writes the schemas as pydantic models
(FastAPI publishes them in its OpenAPI document); nova writes them as JSON Schema.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# printable: no control characters (NUL included), as nova's ``valid_name_regex``
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MAX_INT = 2**31 - 1  # nova's integer columns


def plain(value: str, limit: int = 255) -> bool:
    """Could ``value`` (an id or a name in a URL) be in a column? Printable, and short
    enough: anything else is found nowhere, and must not reach PostgreSQL."""
    return len(value) <= limit and re.fullmatch(_PRINTABLE, value) is not None


def _no_edge_spaces(value: str) -> str:
    if value != value.strip():
        raise ValueError("Can not start or end with whitespace.")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=_PRINTABLE),
    AfterValidator(_no_edge_spaces),
]
Text255 = Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=_PRINTABLE)]
Metadata = Annotated[dict[MetadataKey, Text255], Field(max_length=128)]


def _as_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


Uuid = Annotated[str, StringConstraints(max_length=36), AfterValidator(_as_uuid)]


def _image_ref(value: str) -> str:
    """A UUID, or a URL whose last path segment is one (nova takes glance's hrefs too)."""
    if not value:
        return value
    if re.fullmatch(r"[0-9a-fA-F-]{32,36}", value):
        return _as_uuid(value)
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and not parts.query and not parts.fragment:
        tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if ".." not in parts.path.split("/"):
            return _as_uuid(tail)
    raise ValueError("must be an image UUID or a URL ending in one")


ImageRef = Annotated[str, StringConstraints(max_length=255), AfterValidator(_image_ref)]


def _flavor_ref(value: Any) -> Any:
    """nova takes a flavor id as a string or an integer, or a URL ending in it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        parts = urlsplit(value)
        if not parts.query and ".." not in parts.path.split("/"):
            return parts.path.rstrip("/").rsplit("/", 1)[-1]
    return value


FlavorRef = Annotated[
    str,
    BeforeValidator(_flavor_ref),
    StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$"),
]


def _positive_int(value: Any) -> Any:
    """nova's ``positive_integer``: an integer or a string of digits."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_positive_int), Field(ge=1, le=1000, strict=True)]
# 2.19's description: nova's ``valid_description_regex`` (printable), at most 255
Description = Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("is not a base64 string") from None
    return value


UserData = Annotated[str, StringConstraints(max_length=65535), AfterValidator(_base64)]


class Body(BaseModel):
    """nova's schemas allow no unknown key at the top of a resource (additionalProperties)."""

    model_config = ConfigDict(extra="forbid")


class NetworkRequest(Body):
    """One ``networks`` entry: a network, a pre-made port, and/or a fixed IP on the network."""

    uuid: Uuid | None = None
    port: Uuid | None = None
    fixed_ip: Annotated[str, StringConstraints(max_length=45)] | None = None
    tag: Text255 | None = None

    @model_validator(mode="after")
    def _one_target(self) -> NetworkRequest:
        if not self.uuid and not self.port:
            raise ValueError("each entry needs a 'uuid' (network) or a 'port'")
        if self.port and self.fixed_ip:
            raise ValueError("'fixed_ip' and 'port' are mutually exclusive")
        if self.fixed_ip is not None:
            try:
                ipaddress.ip_address(self.fixed_ip)
            except ValueError:
                raise ValueError(f"{self.fixed_ip!r} is not a valid IP address") from None
        return self


class BlockDevice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uuid: Uuid | None = None
    source_type: Literal["volume", "image", "snapshot", "blank"] = "volume"
    destination_type: Literal["volume", "local"] = "volume"
    boot_index: int | Annotated[str, StringConstraints(max_length=10)] | None = None
    device_name: Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None = None
    volume_size: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    delete_on_termination: bool = False


class ServerCreate(BaseModel):
    # clients send keys nova ignores at 2.1 (OS-DCF:diskConfig, user_data ...)
    model_config = ConfigDict(extra="ignore")
    name: Name
    flavorRef: FlavorRef  # noqa: N815 - nova's names
    imageRef: ImageRef = ""  # noqa: N815
    networks: list[NetworkRequest] | Literal["auto", "none"] | None = None
    availability_zone: Name | None = None
    metadata: Metadata = Field(default_factory=dict)
    min_count: Count = 1
    max_count: Count | None = None
    key_name: Name | None = None
    block_device_mapping_v2: list[BlockDevice] = Field(default_factory=list, max_length=64)
    security_groups: list[dict[str, Text255]] = Field(default_factory=list, max_length=64)
    user_data: UserData | None = None
    description: Description = None  # from 2.19 (servers.py refuses it below)

    @model_validator(mode="after")
    def _counts(self) -> ServerCreate:
        if self.max_count is not None and self.min_count > self.max_count:
            raise ValueError("min_count must be <= max_count")
        return self


class ServerCreateBody(Body):
    server: ServerCreate


class ServerUpdate(Body):
    name: Name | None = None
    description: Description = None  # from 2.19
    accessIPv4: Annotated[str, StringConstraints(max_length=15)] | None = None  # noqa: N815
    accessIPv6: Annotated[str, StringConstraints(max_length=39)] | None = None  # noqa: N815


class ServerUpdateBody(Body):
    server: ServerUpdate


class MetadataBody(Body):
    metadata: Metadata


class MetaItemBody(Body):
    meta: Annotated[dict[MetadataKey, Text255], Field(min_length=1, max_length=1)]


class ListQuery(BaseModel):
    """``GET /servers`` filters a user may pass at 2.1 (others are ignored, as nova does)."""

    name: Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None = None
    status: Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z_]*$")] | None = None
    limit: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    marker: Annotated[str, StringConstraints(max_length=36, pattern=_PRINTABLE)] | None = None
    changes_since: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, alias="changes-since"
    )
    all_tenants: Annotated[str, StringConstraints(max_length=16)] | None = None
    project_id: Annotated[str, StringConstraints(max_length=255)] | None = None

    @model_validator(mode="after")
    def _regex(self) -> ListQuery:
        if self.name:
            try:
                re.compile(self.name)
            except re.error:
                raise ValueError(f"name: {self.name!r} is not a regular expression") from None
        return self


# -- actions -------------------------------------------------------------------------------
class Reboot(Body):
    type: Literal["SOFT", "HARD", "soft", "hard"]


class Resize(Body):
    flavorRef: FlavorRef  # noqa: N815


class Tags(Body):
    tags: list[Annotated[str, StringConstraints(max_length=255)]] = Field(max_length=50)


class ConsoleOutput(Body):
    length: Annotated[int, BeforeValidator(_positive_int), Field(ge=-1, le=MAX_INT)] | None = None


class Attachment(Body):
    volumeId: Uuid  # noqa: N815
    device: (
        Annotated[str, StringConstraints(max_length=255, pattern=r"^/dev/[a-z0-9]+$")] | None
    ) = None
    tag: Text255 | None = None


class AttachmentBody(Body):
    volumeAttachment: Attachment  # noqa: N815


# -- keypairs, quotas ------------------------------------------------------------------------
KeypairName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9 @._-]+$"),
    AfterValidator(_no_edge_spaces),
]


class Keypair(Body):
    name: KeypairName
    public_key: Annotated[str, StringConstraints(max_length=16384, pattern=_PRINTABLE)] | None = (
        None
    )
    type: Literal["ssh", "x509"] = "ssh"  # from 2.2 (api/keypairs.py refuses it below)
    user_id: Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None = (
        None  # from 2.10: an admin makes a key pair for another user
    )


class KeypairQuery(BaseModel):
    """``GET /os-keypairs``: another user's (2.10, admins) and a page of them (2.35)."""

    user_id: Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None = None
    limit: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    marker: Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)] | None = None


class KeypairBody(Body):
    keypair: Keypair


QuotaValue = Annotated[int, BeforeValidator(_positive_int), Field(ge=-1, le=MAX_INT)]


class QuotaSet(Body):
    instances: QuotaValue | None = None
    cores: QuotaValue | None = None
    ram: QuotaValue | None = None
    key_pairs: QuotaValue | None = None
    metadata_items: QuotaValue | None = None
    force: bool | None = None


class QuotaSetBody(Body):
    quota_set: QuotaSet
