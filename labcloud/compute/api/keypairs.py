"""``/os-keypairs``: a user's key pairs, generated (the private key shown once) or imported.

As nova's ``keypairs.py``: 2.2 adds ``type`` (and answers create with 201, delete with 204),
2.10 lets an admin name another user (``user_id``), 2.35 pages the list (limit, marker).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from labcloud.compute import responses as out
from labcloud.compute.api.deps import JSON, BaseUrl, Ctxt, Frontend, Microversion, nova_router
from labcloud.compute.schemas import KeypairBody, KeypairQuery
from labcloud.context import RequestContext
from labcloud.exceptions import Invalid
from labcloud.policy import authorize

router = nova_router("/v2.1/os-keypairs", "keypairs")
Params = Annotated[KeypairQuery, Query()]
INDEX = ("name", "public_key", "fingerprint")
CREATE = (*INDEX, "user_id")
SHOW = (*CREATE, "created_at", "deleted", "deleted_at", "id", "updated_at")


def _view(key: dict[str, Any], keys: tuple[str, ...], version: tuple[int, int]) -> JSON:
    shown = keys + (("type",) if version >= (2, 2) else ())
    return {k: key[k] for k in shown}


def _user(ctxt: RequestContext, asked: str | None, version: tuple[int, int], rule: str) -> str:
    """The key pairs' user: the caller's own, or from 2.10 ``user_id`` (admins)."""
    user_id = (asked if version >= (2, 10) else None) or ctxt.user_id or ""
    authorize(ctxt, f"os_compute_api:os-keypairs:{rule}", {"user_id": user_id})
    return user_id


@router.post("", response_model=out.KeypairBody, status_code=201)
def create(body: KeypairBody, ctxt: Ctxt, front: Frontend, version: Microversion) -> Response:
    k = body.keypair
    for name, first in (("type", (2, 2)), ("user_id", (2, 10))):
        if name in k.model_fields_set and version < first:
            raise Invalid(
                "Invalid input for field/attribute keypair. Additional properties are not "
                f"allowed ({name!r} was unexpected)"
            )
    user_id = _user(ctxt, k.user_id, version, "create")
    limit = front.quota.limits(ctxt.project_id or "")["key_pairs"]
    made = front.keypairs.create(user_id, k.name, k.public_key, k.type, limit)
    shown = _view(made, CREATE, version)
    if made.get("private_key"):
        shown["private_key"] = made["private_key"]
    return JSONResponse({"keypair": shown}, status_code=201 if version >= (2, 2) else 200)


@router.get("", response_model=out.Keypairs)
def index(q: Params, base: BaseUrl, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    keys = front.keypairs.list(_user(ctxt, q.user_id, version, "index"))
    body: JSON = {}
    if version >= (2, 35) and (q.marker is not None or q.limit is not None):
        if q.marker is not None:
            names = [k["name"] for k in keys]
            if q.marker not in names:
                raise Invalid(f"Marker {q.marker[:64]!r} could not be found.")
            keys = keys[names.index(q.marker) + 1 :]
        if q.limit is not None and len(keys) > q.limit:
            keys = keys[: q.limit]
            last = keys[-1]["name"] if keys else ""
            href = f"{base}/v2.1/os-keypairs?limit={q.limit}&marker={last}"
            body["keypairs_links"] = [{"rel": "next", "href": href}]
    return {"keypairs": [{"keypair": _view(k, INDEX, version)} for k in keys]} | body


@router.get("/{name}", response_model=out.KeypairBody)
def show(name: str, q: Params, ctxt: Ctxt, front: Frontend, version: Microversion) -> JSON:
    user_id = _user(ctxt, q.user_id, version, "show")
    return {"keypair": _view(front.keypairs.get(user_id, name), SHOW, version)}


@router.delete("/{name}", status_code=204)
def delete(name: str, q: Params, ctxt: Ctxt, front: Frontend, version: Microversion) -> Response:
    front.keypairs.delete(_user(ctxt, q.user_id, version, "delete"), name)
    return Response(status_code=204 if version >= (2, 2) else 202)
