"""``/servers/{id}/tags`` (2.26): a server's tags, all at once or one by one, as nova's
``server_tags.py``; changing them needs the server unlocked, as nova's does."""

from __future__ import annotations

from fastapi import Request, Response

from labcloud.compute import locks_tags
from labcloud.compute.api.deps import JSON, Ctxt, Frontend, Microversion, nova_router, since
from labcloud.compute.schemas import Tags
from labcloud.exceptions import NotFound

router = nova_router("/v2.1/servers/{uuid}/tags", "server tags")
FIRST = (2, 26)


@router.get("")
def index(uuid: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    since(version, FIRST)
    return {"tags": front.get(ctxt, uuid)["tags"]}


@router.put("")
def replace(uuid: str, body: Tags, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    since(version, FIRST)
    inst = front.get(ctxt, uuid)
    locks_tags.check_instance_lock(ctxt, inst)
    return {"tags": locks_tags.set_tags(front.instances, inst, body.tags)}


@router.delete("", status_code=204)
def delete_all(uuid: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> None:
    since(version, FIRST)
    inst = front.get(ctxt, uuid)
    locks_tags.check_instance_lock(ctxt, inst)
    locks_tags.set_tags(front.instances, inst, [])


@router.get("/{tag}", status_code=204)
def check(uuid: str, tag: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> None:
    since(version, FIRST)
    if tag not in front.get(ctxt, uuid)["tags"]:
        raise NotFound(f"Tag {tag[:64]!r} could not be found.")


@router.put("/{tag}")
def add(
    uuid: str, tag: str, request: Request, ctxt: Ctxt, front: Frontend, version: Microversion
) -> Response:
    """201 with the tag's address when it is new, 204 when the server had it already."""
    since(version, FIRST)
    inst = front.get(ctxt, uuid)
    locks_tags.check_instance_lock(ctxt, inst)
    if locks_tags.add_tag(front.instances, inst, locks_tags.check_tag(tag)):
        return Response(status_code=201, headers={"Location": str(request.url)})
    return Response(status_code=204)


@router.delete("/{tag}", status_code=204)
def delete(uuid: str, tag: str, ctxt: Ctxt, front: Frontend, version: Microversion) -> None:
    since(version, FIRST)
    inst = front.get(ctxt, uuid)
    locks_tags.check_instance_lock(ctxt, inst)
    locks_tags.delete_tag(front.instances, inst, tag)
