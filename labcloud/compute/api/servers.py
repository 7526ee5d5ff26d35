"""``/servers``: create, list (with nova's filters), show, rename, delete, and metadata; the
bodies follow the microversion asked for (the table in compute/api/__init__.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from labcloud.compute import filters, server_actions, views
from labcloud.compute import responses as out
from labcloud.compute.api.deps import JSON, BaseUrl, Ctxt, Frontend, Microversion, nova_router
from labcloud.compute.create import create_servers
from labcloud.compute.schemas import (
    ListQuery,
    MetadataBody,
    MetaItemBody,
    ServerCreateBody,
    ServerUpdateBody,
)
from labcloud.exceptions import Invalid, NotFound
from labcloud.policy import authorize

router = nova_router("/v2.1/servers", "servers")
Filters = Annotated[ListQuery, Query()]


def _all_tenants(value: str | None) -> bool:
    """nova reads ``all_tenants`` as a boolean: present with no value, or a true word."""
    return value is not None and value.lower() not in ("0", "false", "no", "off")


def _listed(front: Frontend, ctxt: Ctxt, q: ListQuery) -> list[dict[str, Any]]:
    servers = front.list_servers(ctxt, _all_tenants(q.all_tenants), q.project_id)
    return filters.apply(
        servers,
        name=q.name,
        status=q.status,
        changes_since=q.changes_since,
        marker=q.marker,
        limit=q.limit,
    )


@router.post("", status_code=202, response_model=out.ServerCreatedBody)
def create(
    body: ServerCreateBody, base: BaseUrl, ctxt: Ctxt, front: Frontend, version: Microversion
) -> JSON:
    s = body.server
    _check_networks(s.networks, version)
    _since_2_19(s.model_fields_set, version)
    image_ref = s.imageRef or next(
        (b.uuid for b in s.block_device_mapping_v2 if b.source_type == "image" and b.uuid), ""
    )
    if not image_ref:
        raise Invalid("Missing imageRef attribute")
    networks: Any = s.networks
    if isinstance(networks, list):
        networks = [n.model_dump(exclude_none=True) for n in networks]
    created = create_servers(
        front,
        ctxt,
        s.name,
        s.flavorRef,
        image_ref.rstrip("/").rsplit("/", 1)[-1],
        networks=networks,
        volumes=[b.uuid for b in s.block_device_mapping_v2 if b.source_type == "volume" and b.uuid],
        availability_zone=s.availability_zone,
        metadata=s.metadata,
        count=s.max_count or s.min_count,
        key_name=s.key_name,
        description=s.description,
        user_data=s.user_data,
    )
    first = created[0]
    return {
        "server": {
            "id": first["uuid"],
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": "labcloud",
            "links": views._links(base, "servers", first["uuid"]),
        }
    }


def _since_2_19(given: set[str], version: tuple[int, int]) -> None:
    """``description`` is 2.19's: below, nova's schema has no such property."""
    if version < (2, 19) and "description" in given:
        raise Invalid(
            "Invalid input for field/attribute server. Value: ... Additional properties are "
            "not allowed ('description' was unexpected)"
        )


def _check_networks(networks: object, version: tuple[int, int]) -> None:
    """From 2.37 ``networks`` is required and may be ``"auto"`` or ``"none"``; below, it is
    a list or left out (nova's schema for each version)."""
    if version >= (2, 37) and networks is None:
        raise Invalid("Invalid input for field/attribute server. 'networks' is a required property")
    if version < (2, 37) and isinstance(networks, str):
        raise Invalid(
            f"Invalid input for field/attribute networks. Value: {networks}. "
            f"{networks!r} is not of type 'array'"
        )


@router.get("", response_model=out.ServerRefs)
def index(q: Filters, base: BaseUrl, ctxt: Ctxt, front: Frontend) -> JSON:
    return {
        "servers": [
            {
                "id": i["uuid"],
                "name": i["display_name"],
                "links": views._links(base, "servers", i["uuid"]),
            }
            for i in _listed(front, ctxt, q)
        ]
    }


@router.get("/detail", response_model=out.Servers)
def detail(q: Filters, base: BaseUrl, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    return {"servers": _shown(base, ctxt, front, version, _listed(front, ctxt, q))}


def _shown(
    base: str,
    ctxt: Ctxt,
    front: Frontend,
    version: tuple[int, int],
    instances: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Servers as nova's view builder shows them at ``version`` to this caller."""
    admin = authorize(ctxt, "os_compute_api:os-extended-server-attributes", fatal=False)
    statuses: dict[str, str] = {}
    if version >= (2, 16) and authorize(
        ctxt, "os_compute_api:servers:show:host_status", fatal=False
    ):
        statuses = front.hosts.host_statuses(instances)
    # a server shows its fault only in ERROR: those of the page's are read in one query
    faults = front.instances.faults(i["uuid"] for i in instances if i["status"] == "ERROR")
    return [
        views.server(
            base,
            i,
            faults.get(i["uuid"]),
            admin=admin,
            version=version,
            host_status=statuses.get(i["uuid"]),
        )
        for i in instances
    ]


@router.get("/{uuid}", response_model=out.ServerBody)
def show(uuid: str, base: BaseUrl, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    return {"server": _shown(base, ctxt, front, version, [front.get(ctxt, uuid)])[0]}


@router.put("/{uuid}", response_model=out.ServerBody)
def update(
    uuid: str,
    body: ServerUpdateBody,
    base: BaseUrl,
    ctxt: Ctxt,
    front: Frontend,
    version: Microversion,
) -> JSON:
    given = body.server.model_fields_set
    _since_2_19(given, version)
    description = body.server.description if "description" in given else ...
    inst = front.update(ctxt, uuid, body.server.name, description)
    return {"server": _shown(base, ctxt, front, version, [inst])[0]}


@router.delete("/{uuid}", status_code=204)
def delete(uuid: str, ctxt: Ctxt, front: Frontend) -> None:
    server_actions.delete(front, ctxt, uuid)


# -- metadata --------------------------------------------------------------------------------
@router.get("/{uuid}/metadata", response_model=out.MetadataBody)
def metadata(uuid: str, ctxt: Ctxt, front: Frontend) -> JSON:
    return {"metadata": front.get(ctxt, uuid)["metadata"]}


@router.put("/{uuid}/metadata", response_model=out.MetadataBody)
def replace_metadata(uuid: str, body: MetadataBody, ctxt: Ctxt, front: Frontend) -> JSON:
    return {"metadata": front.set_metadata(ctxt, uuid, body.metadata, replace=True)}


@router.post("/{uuid}/metadata", response_model=out.MetadataBody)
def update_metadata(uuid: str, body: MetadataBody, ctxt: Ctxt, front: Frontend) -> JSON:
    return {"metadata": front.set_metadata(ctxt, uuid, body.metadata, replace=False)}


@router.get("/{uuid}/metadata/{key}", response_model=out.MetaBody)
def metadata_item(uuid: str, key: str, ctxt: Ctxt, front: Frontend) -> JSON:
    value = front.get(ctxt, uuid)["metadata"].get(key)
    if value is None:
        raise NotFound(f"Metadata item was not found: {key}")
    return {"meta": {key: value}}


@router.put("/{uuid}/metadata/{key}", response_model=out.MetaBody)
def set_metadata_item(uuid: str, key: str, body: MetaItemBody, ctxt: Ctxt, front: Frontend) -> JSON:
    if list(body.meta) != [key]:
        raise Invalid("Request body and URI mismatch")
    front.set_metadata(ctxt, uuid, body.meta, replace=False)
    return {"meta": body.meta}


@router.delete("/{uuid}/metadata/{key}", status_code=204)
def delete_metadata_item(uuid: str, key: str, ctxt: Ctxt, front: Frontend) -> None:
    front.delete_metadata(ctxt, uuid, key)
