"""What nova-api does for a request, behind its REST routes (nova's compute/api.py ``API``).

``ComputeFrontend`` holds what the requests need (the instances, the conductor's and the
compute hosts' RPC clients, the REST clients of glance, neutron and cinder, the quotas) and
answers the simple ones itself: flavors, reading a server, its name and its metadata. The
flows have a module each, over the frontend:

- create.py: steps 6–8 of the seed, from the request's checks to the cast to the conductor
- server_actions.py: stop, reboot, resize, attach a volume, delete ...: a state checked, a
  task state set, a cast to the instance's compute host
- hosts.py: the hosts as nova-api shows them (hypervisors, availability zones, services)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, Table, bindparam, select

from labcloud.compute.clients import CinderClient, GlanceClient, NeutronClient
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.hosts import HostsView
from labcloud.compute.instance_actions import InstanceActions
from labcloud.compute.instances import Instances
from labcloud.compute.keypairs import KeyPairs
from labcloud.compute.locks_tags import check_instance_lock
from labcloud.compute.models import Flavor, FlavorExtraSpec
from labcloud.compute.quotas import QuotaExceeded, Quotas
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.schemas import plain
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.context import RequestContext
from labcloud.exceptions import InstanceNotFound, Invalid, NotFound
from labcloud.policy import authorize

# Per-project quotas; -1 is unlimited, as in nova. nova's defaults are instances 10, cores 20,
# ram 51200 ([quota] in nova.conf); labcloud starts unlimited, because its labs and benchmark
# fill hosts on purpose, and a lab that teaches quotas sets them (frontend.quotas).
DEFAULT_QUOTAS = {"instances": -1, "cores": -1, "ram": -1}
NOVA_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200}


FLAVORS: Table = Flavor.__table__  # type: ignore[assignment]  # a Table, typed FromClause
SPECS: Table = FlavorExtraSpec.__table__  # type: ignore[assignment]
_FLAVOR_BY_ID = select(FLAVORS).where(FLAVORS.c.id == bindparam("flavor_id"))
_FLAVOR_BY_NAME = select(FLAVORS).where(FLAVORS.c.name == bindparam("flavor_id"))
_EXTRA_SPECS = select(SPECS.c.key, SPECS.c.value).where(SPECS.c.flavor_id == bindparam("flavor_id"))

__all__ = ["DEFAULT_QUOTAS", "NOVA_QUOTAS", "ComputeFrontend", "QuotaExceeded"]


def flavor_dict(f: Flavor | Row[Any], extra_specs: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "memory_mb": f.memory_mb,
        "root_gb": f.root_gb,
        "ephemeral_gb": f.ephemeral_gb,
        "swap": f.swap,
        "extra_specs": extra_specs or {},
    }


class ComputeFrontend:
    def __init__(
        self,
        instances: Instances,
        conductor: ConductorAPI,
        compute: ComputeAPI,
        *,
        glance: GlanceClient,
        neutron: NeutronClient,
        cinder: CinderClient,
        servicegroup: ServiceGroup | None = None,
    ) -> None:
        self.instances = instances
        self.conductor, self.compute = conductor, compute
        self.servicegroup = servicegroup or ServiceGroup()
        self.glance, self.neutron, self.cinder = glance, neutron, cinder
        # the default quotas (nova's [quota] options); change them to teach a quota hit
        self.quotas = dict(DEFAULT_QUOTAS)
        self.keypairs = KeyPairs(instances.db)
        self.actions = InstanceActions(instances.db)
        self.hosts = HostsView(instances.db, self.servicegroup)

    @property
    def quota(self) -> Quotas:
        """Per-project limits and usage over the current defaults (``self.quotas``)."""
        return Quotas(self.instances, self.quotas)

    def flavors(self) -> list[dict[str, Any]]:
        with self.instances.db.reader() as s:
            specs: dict[str, dict[str, str]] = {}
            for spec in s.scalars(select(FlavorExtraSpec)):
                specs.setdefault(spec.flavor_id, {})[spec.key] = spec.value
            rows = s.scalars(select(Flavor).order_by(Flavor.memory_mb))
            return [flavor_dict(f, specs.get(f.id)) for f in rows]

    def flavor(self, flavor_id: str) -> dict[str, Any]:
        """A flavor by id, else by name (read for every boot: Core statements built once)."""
        if not plain(flavor_id):
            raise NotFound(f"Flavor {flavor_id[:64]!r} could not be found.")
        with self.instances.db.read() as c:
            where = {"flavor_id": flavor_id}
            row = (
                c.execute(_FLAVOR_BY_ID, where).first() or c.execute(_FLAVOR_BY_NAME, where).first()
            )
            if row is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            specs = c.execute(_EXTRA_SPECS, {"flavor_id": row.id})
            return flavor_dict(row, dict(specs.all()))

    def check_metadata(
        self,
        ctxt: RequestContext,
        metadata: dict[str, str],
        limits: Mapping[str, int] | None = None,
    ) -> None:
        """Metadata items against the project's quota (``limits``: when just read)."""
        limits = self.quota.limits(ctxt.project_id or "") if limits is None else limits
        allowed = limits["metadata_items"]
        if 0 <= allowed < len(metadata):
            raise QuotaExceeded(
                resource="metadata_items", requested=len(metadata), used=0, allowed=allowed
            )

    def volume(self, ctxt: RequestContext, volume_id: str) -> dict[str, Any]:
        """A volume the request names (a new server's, or one to attach): it is available."""
        try:
            volume = self.cinder.get(ctxt, volume_id)
        except NotFound:
            raise Invalid(f"Volume {volume_id} could not be found.") from None
        if volume["status"] != "available":
            raise Invalid(f"Volume {volume_id} is {volume['status']}, not available.")
        return {"uuid": volume_id}

    def get(self, ctxt: RequestContext, uuid: str, *, read_deleted: bool = False) -> dict[str, Any]:
        """An instance of the caller's project (404 for another project's, as nova answers:
        an admin reads every project's, nova's default rule for a server's owner or admin)."""
        if not plain(uuid, 36):
            raise InstanceNotFound(instance_id=uuid[:64])
        project_id = None if ctxt.is_admin else ctxt.project_id
        return self.instances.get(uuid, project_id=project_id, read_deleted=read_deleted)

    def list_servers(
        self, ctxt: RequestContext, all_tenants: bool, project_id: str | None
    ) -> list[dict[str, Any]]:
        """nova's index: the caller's project; ``all_tenants`` (admin only) every project's,
        or ``project_id``'s."""
        if not all_tenants:
            return self.instances.list(ctxt.project_id or "-")
        authorize(ctxt, "os_compute_api:servers:index:get_all_tenants")
        return self.instances.list(project_id)

    def update(
        self, ctxt: RequestContext, uuid: str, name: str | None, description: Any = ...
    ) -> dict[str, Any]:
        """nova's server PUT: the name, and from 2.19 the description (None clears it)."""
        self.get(ctxt, uuid)
        changes: dict[str, Any] = {"display_name": name} if name else {}
        if description is not ...:
            changes["display_description"] = description
        return self.instances.update(uuid, changes) if changes else self.get(ctxt, uuid)

    def set_metadata(
        self, ctxt: RequestContext, uuid: str, metadata: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        """nova's server metadata: PUT replaces all, POST merges, a key's PUT sets one."""
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        merged = dict(metadata) if replace else dict(inst["metadata"]) | metadata
        self.check_metadata(ctxt, merged)
        return dict(self.instances.update(uuid, {"metadata": merged})["metadata"])

    def delete_metadata(self, ctxt: RequestContext, uuid: str, key: str) -> None:
        inst = self.get(ctxt, uuid)
        check_instance_lock(ctxt, inst)
        if key not in inst["metadata"]:
            raise NotFound(f"Metadata item was not found: {key}")
        rest = {k: v for k, v in inst["metadata"].items() if k != key}
        self.instances.update(uuid, {"metadata": rest})
