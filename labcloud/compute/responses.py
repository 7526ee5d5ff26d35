"""What nova-api answers, as pydantic models: FastAPI checks each answer against its model
and publishes the models in the OpenAPI document. Each model names the fields nova's API
reference documents at 2.1; ``extra="allow"`` keeps nova's extension fields
(``OS-EXT-STS:*``, ``OS-EXT-SRV-ATTR:*`` for admins ...) that Python cannot name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(Out):
    rel: str
    href: str


class ServerRef(Out):
    id: str
    links: list[Link]


class ServerCreated(Out):
    id: str
    adminPass: str  # noqa: N815 - nova's names
    links: list[Link]


class Server(Out):
    id: str
    name: str
    status: str
    tenant_id: str
    user_id: str
    metadata: dict[str, str]
    addresses: dict[str, list[dict[str, Any]]]
    key_name: str | None
    created: str | None
    updated: str | None
    links: list[Link]


class Flavor(Out):
    id: str
    name: str
    ram: int
    vcpus: int
    disk: int
    links: list[Link]


class Keypair(Out):
    name: str
    public_key: str
    fingerprint: str


class InstanceAction(Out):
    action: str
    instance_uuid: str
    request_id: str
    user_id: str
    project_id: str
    start_time: str | None


class Zone(Out):
    zoneName: str  # noqa: N815
    zoneState: dict[str, bool]  # noqa: N815
    hosts: dict[str, Any] | None


class Hypervisor(Out):
    id: int
    hypervisor_hostname: str
    state: str
    status: str


# -- the envelopes nova wraps them in ----------------------------------------------------------
class ServerCreatedBody(Out):
    server: ServerCreated


class ServerRefs(Out):
    servers: list[ServerRef]


class Servers(Out):
    servers: list[Server]


class ServerBody(Out):
    server: Server


class MetadataBody(Out):
    metadata: dict[str, str]


class MetaBody(Out):
    meta: dict[str, str]


class Flavors(Out):
    flavors: list[Flavor]


class FlavorBody(Out):
    flavor: Flavor


class ExtraSpecs(Out):
    extra_specs: dict[str, str]


class KeypairBody(Out):
    keypair: Keypair


class KeypairEntry(Out):
    keypair: Keypair


class Keypairs(Out):
    keypairs: list[KeypairEntry]


class InstanceActions(Out):
    instanceActions: list[InstanceAction]  # noqa: N815


class InstanceActionBody(Out):
    instanceAction: InstanceAction  # noqa: N815


class Limits(Out):
    limits: dict[str, Any]


class QuotaSetBody(Out):
    quota_set: dict[str, Any]


class Zones(Out):
    availabilityZoneInfo: list[Zone]  # noqa: N815


class Hypervisors(Out):
    hypervisors: list[Hypervisor]


class HypervisorBody(Out):
    hypervisor: Hypervisor


class Services(Out):
    services: list[dict[str, Any]]


class Attachment(Out):
    id: str
    serverId: str  # noqa: N815
    volumeId: str  # noqa: N815
    device: str | None


class AttachmentBody(Out):
    volumeAttachment: Attachment  # noqa: N815


class Attachments(Out):
    volumeAttachments: list[Attachment]  # noqa: N815
