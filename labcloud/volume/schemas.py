"""cinder's request bodies (cinder/api/schemas/*.py) and answers as pydantic models: what
cinder-api checks at its edge, and what its OpenAPI document shows.

Strict, as cinder's jsonschema is: ``"size": "1"`` is accepted (cinder's size may be a
string of digits) but ``true`` or ``1.5`` are not; names and descriptions fit cinder's
255-character columns; no string holds a NUL (PostgreSQL refuses them).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_INT = 2**31 - 1  # cinder's db.MAX_INT: sizes are INTEGER columns


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL byte")
    return value


def _size(value: int | str | None) -> int | None:
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ValueError("must be an integer")
        value = int(value)
    if value is not None and not 1 <= value <= MAX_INT:
        raise ValueError(f"must be an integer between 1 and {MAX_INT}")
    return value


Text = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_nul)]
Uuid = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
]
Size = Annotated[
    int | Annotated[str, StringConstraints(max_length=12)] | None, AfterValidator(_size)
]
Metadata = dict[Text, Text]


class Strict(BaseModel):
    # keys cinder does not know are ignored, as its schemas allow additional properties
    model_config = ConfigDict(strict=True, extra="ignore")


class VolumeCreate(Strict):
    size: Size = None
    name: Text | None = None
    description: Text | None = None
    availability_zone: Text | None = None
    imageRef: Text | None = None  # noqa: N815 (cinder's name)
    snapshot_id: Uuid | None = None
    source_volid: Uuid | None = None
    volume_type: Text | None = None
    metadata: Metadata | None = None
    multiattach: bool | None = None


class VolumeCreateBody(Strict):
    volume: VolumeCreate


class VolumeUpdate(Strict):
    name: Text | None = None
    description: Text | None = None
    metadata: Metadata | None = None


class VolumeUpdateBody(Strict):
    volume: VolumeUpdate


class SnapshotCreate(Strict):
    volume_id: Uuid
    name: Text | None = None
    description: Text | None = None
    force: bool = False
    metadata: Metadata | None = None


class SnapshotCreateBody(Strict):
    snapshot: SnapshotCreate


class SnapshotUpdate(Strict):
    name: Text | None = None
    description: Text | None = None


class SnapshotUpdateBody(Strict):
    snapshot: SnapshotUpdate


class Connector(Strict):
    model_config = ConfigDict(strict=True, extra="allow")  # os-brick adds what it knows
    host: Text | None = None
    initiator: Text | None = None


class AttachArgs(Strict):
    instance_uuid: Text | None = None
    mountpoint: Text | None = None
    host_name: Text | None = None


class ConnectionArgs(Strict):
    connector: Connector = Field(default_factory=Connector)


# answers: the fields cinder's clients read, others passed through (extra="allow")
class Link(BaseModel):
    rel: str
    href: str


class VolumeSummary(BaseModel):
    id: str
    name: str
    links: list[Link]


class VolumeView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    description: str
    status: str
    size: int
    availability_zone: str
    bootable: str  # "true" or "false": a string in cinder's answers
    snapshot_id: str | None
    source_volid: str | None
    attachments: list[dict[str, Any]]
    metadata: dict[str, str]
    user_id: str
    created_at: str
    updated_at: str | None
    links: list[Link]


class SnapshotView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    volume_id: str
    name: str
    description: str
    status: str
    size: int
    metadata: dict[str, str]
    created_at: str
    updated_at: str | None


class VolumeAnswer(BaseModel):
    volume: VolumeView


class VolumesAnswer(BaseModel):
    volumes: list[VolumeView]


class VolumeSummaries(BaseModel):
    volumes: list[VolumeSummary]


class SnapshotAnswer(BaseModel):
    snapshot: SnapshotView


class SnapshotsAnswer(BaseModel):
    snapshots: list[SnapshotView]
