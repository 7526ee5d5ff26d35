"""``/flavors``: list, show, and their extra specs (``openstack flavor show`` reads them)."""

from __future__ import annotations

from labcloud.compute import responses as out
from labcloud.compute import views
from labcloud.compute.api.deps import JSON, BaseUrl, Ctxt, Frontend, nova_router
from labcloud.exceptions import NotFound

router = nova_router("/v2.1/flavors", "flavors")


@router.get("", response_model=out.Flavors)
@router.get("/detail", response_model=out.Flavors)
def flavors(base: BaseUrl, _: Ctxt, front: Frontend) -> JSON:
    return {"flavors": [views.flavor(base, f) for f in front.flavors()]}


@router.get("/{flavor_id}", response_model=out.FlavorBody)
def flavor(flavor_id: str, base: BaseUrl, _: Ctxt, front: Frontend) -> JSON:
    return {"flavor": views.flavor(base, front.flavor(flavor_id))}


@router.get("/{flavor_id}/os-extra_specs", response_model=out.ExtraSpecs)
def extra_specs(flavor_id: str, _: Ctxt, front: Frontend) -> JSON:
    return {"extra_specs": front.flavor(flavor_id)["extra_specs"]}


@router.get("/{flavor_id}/os-extra_specs/{key}")
def extra_spec(flavor_id: str, key: str, _: Ctxt, front: Frontend) -> JSON:
    specs = front.flavor(flavor_id)["extra_specs"]
    if key not in specs:
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return {key: specs[key]}
